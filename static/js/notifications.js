// A doctor's live notices: "a patient is waiting" arrives on a small socket,
// shows a toast and a badge on the room, and a browser notification if allowed.

import { SignalingSocket } from "./signaling.js";

const root = document.getElementById("doctor-notifications");

function showToast(text, href, linkLabel) {
  let stack = document.querySelector(".mc-toast-stack");
  if (!stack) {
    stack = document.createElement("div");
    stack.className = "mc-toast-stack";
    stack.setAttribute("aria-live", "polite");
    document.body.append(stack);
  }
  const toast = document.createElement("div");
  toast.className = "glass-card p-3 d-flex align-items-center gap-3";
  toast.setAttribute("role", "status");
  const label = document.createElement("span");
  label.textContent = text;
  const link = document.createElement("a");
  link.className = "btn btn-sm btn-primary";
  link.href = href;
  link.textContent = linkLabel;
  toast.append(label, link);
  stack.append(toast);
  setTimeout(() => toast.remove(), 15000);
}

function onFrame(frame) {
  if (frame.type !== "patient-waiting") return;
  const text = root.dataset.textWaiting.replace("%(name)s", frame.patient.name);
  const href = `/r/${frame.room}/`;
  showToast(text, href, root.dataset.textJoin);
  document.querySelectorAll(`[data-room-code="${CSS.escape(frame.room)}"] .waiting-badge`).forEach((b) => {
    b.hidden = false;
  });
  if ("Notification" in window && Notification.permission === "granted") {
    const notice = new Notification(root.dataset.textTitle, { body: text, tag: frame.room });
    notice.onclick = () => window.location.assign(href);
  }
}

if (root) {
  new SignalingSocket("/ws/notifications/", { onFrame }).connect();
  const ask = document.getElementById("enable-notifications");
  if (ask && "Notification" in window && Notification.permission === "default") {
    ask.hidden = false;
    ask.addEventListener("click", async () => {
      await Notification.requestPermission();
      ask.hidden = true;
    });
  }
}
