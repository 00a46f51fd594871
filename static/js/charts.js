// Billing charts: each <figure data-chart="<json id>"> gets a Chart.js chart drawn
// from the JSON its page put beside it (billing.charts.monthly_chart).
//
// Amounts arrive as decimal strings ("1234.50") and stay strings everywhere
// else; Number() here is only for the pixels. Chart.js is the vendored UMD
// build, loaded with `defer` before this module, so it is window.Chart.

export const PALETTE = [
  { border: "#1d4ed8", fill: "rgba(29, 78, 216, 0.78)" },
  { border: "#0891b2", fill: "rgba(6, 182, 212, 0.72)" },
  { border: "#0e7490", fill: "rgba(14, 116, 144, 0.72)" },
];

// "R$ 1.234,56", as the page's own `brl` filter writes it.
export function formatBRL(value, locale = "pt-BR") {
  return new Intl.NumberFormat(locale, { style: "currency", currency: "BRL" }).format(value);
}

// A decimal string as a number for drawing; anything else is a gap, never NaN on the axis.
export function toNumber(text) {
  if (typeof text !== "string" || !/^-?\d+(\.\d+)?$/.test(text.trim())) return null;
  return Number(text);
}

// The Chart.js configuration for one chart's data: bars, one dataset per series.
// Short month names on the axis ("out/26": twelve full ones do not fit), full in the tooltip.
export function chartConfig(data, { locale = "pt-BR" } = {}) {
  const labels = data.short_labels || data.labels;
  return {
    type: "bar",
    data: {
      labels,
      datasets: data.datasets.map((dataset, index) => {
        const colors = PALETTE[index % PALETTE.length];
        return {
          label: dataset.label,
          data: dataset.values.map(toNumber),
          backgroundColor: colors.fill,
          borderColor: colors.border,
          borderWidth: 1,
          borderRadius: 4,
        };
      }),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { display: data.datasets.length > 1, position: "bottom" },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? data.labels[items[0].dataIndex] : ""),
            label: (item) => `${item.dataset.label}: ${formatBRL(item.parsed.y, locale)}`,
          },
        },
      },
      scales: {
        x: { grid: { display: false } },
        y: {
          beginAtZero: true,
          ticks: { callback: (value) => formatBRL(value, locale).replace(/,00$/, "") },
        },
      },
    },
  };
}

function drawAll() {
  const Chart = window.Chart;
  if (!Chart) return;
  const locale = document.documentElement.lang || "pt-BR";
  document.querySelectorAll("figure[data-chart]").forEach((figure) => {
    const source = document.getElementById(figure.dataset.chart);
    const canvas = figure.querySelector("canvas");
    if (!source || !canvas) return;
    const data = JSON.parse(source.textContent);
    const chart = new Chart(canvas, chartConfig(data, { locale }));
    figure.dataset.chartDrawn = "true";
    figure.chart = chart;
  });
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
}
