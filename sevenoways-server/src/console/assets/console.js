// Sevenoways Relay console: the little the pages need a script for. Served from the
// console itself (the CSP allows no inline script); every page works without it except
// the live updates.
"use strict";

// Live regions: an element with data-live="URL" is replaced by the HTML fragment at URL
// every 1.5 s while the page is visible, until the server answers `x-live: done`.
function live(el) {
  const url = el.getAttribute("data-live");
  let stopped = false;
  async function tick() {
    if (stopped) return;
    if (document.visibilityState === "visible") {
      try {
        const res = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
        if (res.ok) {
          const html = await res.text();
          if (el.innerHTML !== html) el.innerHTML = html;
          if (res.headers.get("x-live") === "done") { stopped = true; return; }
        } else if (res.status === 401 || res.status === 404) {
          stopped = true; return;
        }
      } catch (_) { /* the server is restarting, say: try again next tick */ }
    }
    setTimeout(tick, 1500);
  }
  setTimeout(tick, 1000);
}

// The API key of the docs page: shown masked; copies always carry the real key.
function realKey() {
  const shown = document.getElementById("api-key-shown");
  return shown ? shown.getAttribute("data-key") : null;
}

function copyText(target) {
  const key = realKey();
  if (target.id === "api-key-shown" && key) return key;
  if (target.value !== undefined && target.tagName !== "CODE" && target.tagName !== "PRE") return target.value;
  const clone = target.cloneNode(true);
  if (key) for (const span of clone.querySelectorAll(".secret-key")) span.textContent = key;
  return clone.textContent;
}

function reveal(button) {
  const shown = document.getElementById("api-key-shown");
  const masked = shown.textContent;
  button.addEventListener("click", () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Hide key" : "Reveal key";
    const text = on ? realKey() : masked;
    shown.textContent = text;
    for (const span of document.querySelectorAll(".secret-key")) span.textContent = text;
  });
}

// Copy buttons: data-copy names the element whose text goes to the clipboard.
// Delegated, so buttons inside live fragments work too.
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) return;
  {
    const target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    const text = copyText(target);
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (_) {
      // No clipboard permission: select the text for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(target);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  }
});

// Fields shown only for one choice: data-when="name=value" on a wrapper.
function choices(form) {
  const wrappers = form.querySelectorAll("[data-when]");
  function update() {
    for (const w of wrappers) {
      const [name, value] = w.getAttribute("data-when").split("=");
      const checked = form.querySelector(`input[name="${name}"]:checked, select[name="${name}"]`);
      const on = checked && checked.value === value;
      w.hidden = !on;
      for (const input of w.querySelectorAll("input, select, textarea")) input.disabled = !on;
    }
  }
  form.addEventListener("change", update);
  update();
}

// Live preview: an element with data-preview="URL" is refreshed from URL?<form fields>
// when its form changes (the schedule's next runs).
function preview(el) {
  const form = el.closest("form");
  let timer = null;
  async function refresh() {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (k !== "csrf") params.append(k, v);
    try {
      const res = await fetch(`${el.getAttribute("data-preview")}?${params}`, { credentials: "same-origin" });
      el.innerHTML = await res.text();
    } catch (_) { /* keep the last preview */ }
  }
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); });
}

// Forms marked data-inline post in the background and say so in their .inline-result,
// so the page (and its live regions) stays: the sandbox's "Simulate the scan" leaves
// the QR page to show the status turning online by itself.
function inline(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = form.querySelector(".inline-result");
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        body: new URLSearchParams(new FormData(form)),
      });
      if (result) result.textContent = res.ok
        ? "Done: the status below updates by itself."
        : `Refused (${res.status}): reload the page and try again.`;
    } catch (_) {
      if (result) result.textContent = "The server did not answer: try again.";
    }
    if (button) button.disabled = false;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-inline]").forEach(inline);
  const revealButton = document.getElementById("reveal-key");
  if (revealButton) reveal(revealButton);
  document.querySelectorAll("[data-live]").forEach(live);
  document.querySelectorAll("form[data-choices]").forEach(choices);
  document.querySelectorAll("[data-preview]").forEach(preview);
});
