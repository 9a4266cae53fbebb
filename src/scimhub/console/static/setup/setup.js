// The setup page: copy buttons and the live connection check (no third-party code).
"use strict";

function copyValue(button) {
  const target = document.getElementById(button.dataset.copy);
  if (!target) return;
  const text = target.value !== undefined ? target.value : target.textContent;
  const done = () => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text.trim()).then(done, () => selectText(target));
  } else {
    selectText(target);
  }
}

function selectText(target) {
  if (target.select) { target.select(); return; }
  const range = document.createRange();
  range.selectNodeContents(target);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showFailures(failures) {
  const box = document.getElementById("check-failures");
  box.replaceChildren();
  if (!failures.length) return;
  box.appendChild(element("h3", "", "Failed requests"));
  const list = element("ul", "failures");
  for (const f of failures) {
    const item = element("li");
    item.append(element("span", "status", String(f.status)), " ",
                element("code", "", f.method + " " + f.path), " ",
                element("span", "muted small", f.at.slice(11, 19) + " UTC"),
                element("div", "hint", f.hint));
    if (f.error) item.appendChild(element("div", "muted small", f.error));
    list.appendChild(item);
  }
  box.appendChild(list);
}

function showStatus(check, state) {
  check.classList.toggle("connected", state.connected);
  check.classList.toggle("waiting", !state.connected);
  document.getElementById("check-title").textContent = state.connected
    ? "Connected" : "Waiting for the first request from your identity provider";
  let idp = "";
  if (state.connected && state.idp && state.idp !== "other") idp = "to " + state.idp;
  else if (state.connected && state.userAgent) idp = "(" + state.userAgent + ")";
  document.getElementById("check-idp").textContent = idp;
  document.getElementById("check-users").textContent = String(state.users);
  document.getElementById("check-groups").textContent = String(state.groups);
  showFailures(state.failures);
}

function poll(check) {
  const every = 1000 * Number(check.dataset.poll || 3);
  const tick = () => {
    fetch(check.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((state) => { showStatus(check, state); setTimeout(tick, every); })
      .catch(() => setTimeout(tick, every * 4));
  };
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", () => copyValue(button));
  }
  const check = document.getElementById("check");
  if (check) poll(check);
});
