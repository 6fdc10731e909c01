// watcher web page: keys and in-place triage. Everything also works without this file (plain forms).
"use strict";
(function () {
  const csrf = () => document.body.dataset.csrf || "";
  let last = null; // the last triaged story: {id, card}

  function toast(text, undo) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = "";
    const span = document.createElement("span");
    span.textContent = text;
    box.appendChild(span);
    if (undo) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = document.body.dataset.undo || "Undo";
      button.addEventListener("click", undoLast);
      box.appendChild(button);
    }
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  async function post(url) {
    const body = new FormData();
    body.append("csrf", csrf());
    const response = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf(), "Accept": "application/json" },
    });
    let data = { ok: false, message: String(response.status) };
    try { data = await response.json(); } catch (e) { /* not JSON: keep the status */ }
    return data;
  }

  function setState(card, state) {
    card.className = card.className.replace(/\bstate-\S+/, "state-" + state);
    const label = card.querySelector(".state");
    if (label && state) label.dataset.state = state;
  }

  async function act(form, button) {
    const card = form.closest(".story");
    const url = (button && button.getAttribute("formaction")) || form.action;
    const action = (button && button.dataset.action) || form.dataset.action;
    const data = await post(url);
    if (!data.ok) { toast(data.message || "error", false); return; }
    if (card && action !== "undo") {
      setState(card, data.state);
      card.classList.add("triaged");
      if (card.classList.contains("current")) move(1);
      setTimeout(() => card.classList.add("gone"), 700);
      last = { id: card.dataset.id, card };
    } else if (card && action === "undo") {
      card.classList.remove("triaged", "gone");
    }
    toast(data.message, action !== "undo" && card && card.closest("#stories"));
  }

  async function undoLast() {
    if (!last) return;
    const { id, card } = last;
    last = null;
    const data = await post("/hits/" + id + "/undo");
    if (data.ok) { setState(card, data.state); card.classList.remove("triaged", "gone"); select(card); }
    toast(data.message, false);
  }

  function cards() { return Array.from(document.querySelectorAll("#stories .story:not(.gone):not(.triaged)")); }
  function current() { return document.querySelector("#stories .story.current"); }
  function select(card) {
    document.querySelectorAll("#stories .story.current").forEach((c) => c.classList.remove("current"));
    if (!card) return;
    card.classList.add("current");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    const list = cards();
    if (!list.length) return;
    const here = list.indexOf(current());
    const next = here < 0 ? 0 : Math.min(list.length - 1, Math.max(0, here + step));
    select(list[next]);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.classList.contains("act")) { event.preventDefault(); act(form, event.submitter); }
    else if (form.hasAttribute("data-reload")) { setTimeout(() => window.location.reload(), 1500); }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    const card = current();
    const press = (action) => {
      const button = card && card.querySelector('form.act button[data-action="' + action + '"]');
      if (button) act(button.form, button);
    };
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "p": press("pick"); break;
      case "s": press("skip"); break;
      case "n": press("noise"); break;
      case "u": undoLast(); break;
      case "o":
        if (card && card.dataset.url) window.open(card.dataset.url, "_blank", "noopener,noreferrer");
        break;
      default: return;
    }
    event.preventDefault();
  });

  // the one-time login link: open the session without a second click (still a POST)
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => form.submit());

  // the live preview of a new query
  const input = document.querySelector("[data-preview]");
  if (input) {
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const url = input.dataset.preview + "?q=" + encodeURIComponent(input.value);
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) document.getElementById("preview").innerHTML = await response.text();
      }, 350);
    });
  }
})();
