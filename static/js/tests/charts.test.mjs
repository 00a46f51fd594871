import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { chartConfig, formatBRL, toNumber } from "../charts.js";

const DATA = {
  id: "clinic-revenue",
  labels: ["setembro de 2026", "outubro de 2026"],
  short_labels: ["set/26", "out/26"],
  datasets: [
    { key: "gross", label: "Valor bruto", values: ["0.00", "1234.56"] },
    { key: "platform", label: "Taxa da clínica", values: ["0.00", "370.37"] },
  ],
};

describe("toNumber", () => {
  test("reads the decimal strings the page sends", () => {
    assert.equal(toNumber("1234.56"), 1234.56);
    assert.equal(toNumber("0.00"), 0);
  });

  test("turns anything else into a gap, not NaN", () => {
    for (const bad of ["", "abc", "1e3", "NaN", "1,5", null, undefined, 12]) {
      assert.equal(toNumber(bad), null, String(bad));
    }
  });
});

describe("chartConfig", () => {
  test("one bar dataset per series, values as numbers, in the palette", () => {
    const config = chartConfig(DATA);
    assert.equal(config.type, "bar");
    assert.deepEqual(config.data.labels, ["set/26", "out/26"]);
    assert.deepEqual(config.data.datasets.map((d) => d.data), [[0, 1234.56], [0, 370.37]]);
    assert.equal(config.data.datasets[0].borderColor, "#1d4ed8");
    assert.notEqual(config.data.datasets[1].borderColor, config.data.datasets[0].borderColor);
    assert.equal(config.options.plugins.legend.display, true);
  });

  test("short month labels on the axis, full ones in the tooltip", () => {
    const config = chartConfig(DATA);
    assert.deepEqual(chartConfig({ ...DATA, short_labels: undefined }).data.labels, DATA.labels);
    const title = config.options.plugins.tooltip.callbacks.title([{ dataIndex: 1 }]);
    assert.equal(title, "outubro de 2026");
  });

  test("a single series needs no legend", () => {
    const one = { ...DATA, datasets: [DATA.datasets[0]] };
    assert.equal(chartConfig(one).options.plugins.legend.display, false);
  });

  test("tooltips show money the Brazilian way", () => {
    const config = chartConfig(DATA);
    const label = config.options.plugins.tooltip.callbacks.label({
      dataset: { label: "Valor bruto" },
      parsed: { y: 1234.56 },
    });
    assert.equal(label.replace(/\s/g, " "), "Valor bruto: R$ 1.234,56");
    assert.equal(formatBRL(0).replace(/\s/g, " "), "R$ 0,00");
  });
});
