/*
 * The utility's chat widget. Embed it in any page with one script tag:
 *
 *   <script src="https://GATEWAY/widget.js" data-title="XX供电公司 智能客服"
 *           data-primary-color="#0b6e4f" data-accent-color="#f5a623"
 *           data-greeting="您好！请问有什么可以帮您？" data-open="true"></script>
 *
 * Options (data-* attributes, or window.PowerChatConfig = {...} before the tag):
 *   server (default: where widget.js came from), title, subtitle, primaryColor, accentColor,
 *   greeting, open ("true": start open), suggestions ("false": no quick suggestions).
 *
 * Speaks Rasa's socket.io protocol (session_request/session_confirm, user_uttered,
 * bot_uttered) plus the gateway's `history` request. Nothing received or typed is ever
 * parsed as HTML: every text goes through textContent.
 */
(function () {
  "use strict";
  if (window.PowerChat && window.PowerChat.loaded) return;

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var custom = window.PowerChatConfig || {};
  function option(name, fallback) {
    if (custom[name] !== undefined && custom[name] !== null) return String(custom[name]);
    var key = name.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); });
    var value = data[name] !== undefined ? data[name] : (script && script.getAttribute("data-" + key));
    return value !== undefined && value !== null && value !== "" ? String(value) : fallback;
  }
  function colour(value, fallback) {
    return /^#[0-9a-fA-F]{3,8}$/.test(value || "") ? value : fallback;
  }

  var server = option("server", script && script.src ? new URL(script.src, location.href).origin : location.origin)
    .replace(/\/+$/, "");
  var config = {
    server: server,
    title: option("title", "XX供电公司 智能客服"),
    subtitle: option("subtitle", "24小时在线 · 供电服务热线 95598"),
    primary: colour(option("primaryColor", ""), "#0b6e4f"),
    accent: colour(option("accentColor", ""), "#f5a623"),
    greeting: option("greeting", "您好！我是XX供电公司24小时智能客服。我可以帮您查询电费、报修故障、查询停电信息、办理用电业务。请问有什么可以帮您？"),
    open: option("open", "false") === "true",
    suggestions: option("suggestions", "true") !== "false"
  };
  var SUGGESTIONS = [
    ["查电费", "我想查一下电费"], ["故障报修", "我家停电了"], ["停电查询", "最近有没有停电计划"],
    ["业务办理", "我要办理用电业务"], ["转人工", "转人工"]
  ];
  var STORE_KEY = "powerchat:" + server;
  var ACK_TIMEOUT_MS = 10000;
  var MAX_STORE_FAILURES = 5; // "not_stored" answers before a message is given up (marked not sent)
  var TYPING_TIMEOUT_MS = 30000;

  // ---- persistent state (session id and unsent messages survive a reload) ----
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY)) || {}; } catch (e) { return {}; }
  }
  var saved = load();
  var state = {
    sessionId: typeof saved.sessionId === "string" ? saved.sessionId : null,
    outbox: Array.isArray(saved.outbox) ? saved.outbox : [],
    open: typeof saved.open === "boolean" ? saved.open : config.open
  };
  function persist() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ sessionId: state.sessionId, outbox: state.outbox, open: state.open }));
    } catch (e) { /* private mode: the session lasts as long as the page */ }
  }

  var seenServerIds = {};   // server message id -> true
  var customerBubbles = {}; // client message id -> bubble element
  var lastServerId = 0;
  var lastReplyId = 0;      // newest bot/staff/system message shown (an ack may arrive after its reply)
  var confirmed = false;
  var socket = null;
  var typingTimer = null;
  var everConnected = false;
  var inFlight = {};        // client message id -> true while waiting for the server's ack

  // ---- DOM helpers (no HTML parsing anywhere) ----
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var STYLE = [
    ".pcw-root{--pcw-primary:#0b6e4f;--pcw-accent:#f5a623;font-family:'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Noto Sans SC',sans-serif;font-size:15px;line-height:1.5;color:#1f2d3d}",
    ".pcw-root *{box-sizing:border-box}",
    ".pcw-launcher{position:fixed;right:24px;bottom:24px;z-index:2147483000;display:flex;align-items:center;gap:8px;padding:12px 20px;border:0;border-radius:28px;background:var(--pcw-primary);color:#fff;font:inherit;font-weight:600;box-shadow:0 6px 20px rgba(0,0,0,.25);cursor:pointer}",
    ".pcw-launcher:focus-visible,.pcw-root button:focus-visible,.pcw-input:focus-visible{outline:3px solid var(--pcw-accent);outline-offset:2px}",
    ".pcw-panel{position:fixed;right:24px;bottom:24px;z-index:2147483001;width:380px;height:min(640px,calc(100vh - 48px));display:flex;flex-direction:column;background:#f4f6f8;border-radius:14px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.28)}",
    ".pcw-panel[hidden],.pcw-launcher[hidden]{display:none}",
    ".pcw-header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--pcw-primary);color:#fff}",
    ".pcw-avatar{flex:none;width:38px;height:38px;border-radius:50%;background:var(--pcw-accent);color:#fff;display:flex;align-items:center;justify-content:center;font-weight:700;font-size:18px}",
    ".pcw-titles{flex:1;min-width:0}",
    ".pcw-title{margin:0;font-size:16px;font-weight:700;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".pcw-subtitle{margin:0;font-size:12px;opacity:.9}",
    ".pcw-close{flex:none;width:36px;height:36px;border:0;border-radius:50%;background:rgba(255,255,255,.15);color:#fff;font-size:20px;line-height:1;cursor:pointer}",
    ".pcw-status{padding:6px 12px;font-size:13px;text-align:center;background:#fff4d6;color:#7a5200}",
    ".pcw-status[hidden]{display:none}",
    ".pcw-log{flex:1;overflow-y:auto;padding:14px 12px;display:flex;flex-direction:column;gap:10px}",
    ".pcw-msg{display:flex;flex-direction:column;max-width:84%}",
    ".pcw-msg.pcw-bot,.pcw-msg.pcw-staff,.pcw-msg.pcw-system{align-self:flex-start}",
    ".pcw-msg.pcw-customer{align-self:flex-end;align-items:flex-end}",
    ".pcw-who{font-size:12px;color:#5b6b7b;margin:0 4px 2px}",
    ".pcw-bubble{padding:9px 12px;border-radius:12px;background:#fff;white-space:pre-wrap;word-break:break-word;box-shadow:0 1px 2px rgba(0,0,0,.08)}",
    ".pcw-customer .pcw-bubble{background:var(--pcw-primary);color:#fff;border-bottom-right-radius:4px}",
    ".pcw-bot .pcw-bubble,.pcw-staff .pcw-bubble{border-bottom-left-radius:4px}",
    ".pcw-staff .pcw-bubble{border-left:4px solid var(--pcw-accent)}",
    ".pcw-system .pcw-bubble{background:#eef2f5;color:#3d4b59}",
    ".pcw-meta{font-size:11px;color:#7b8794;margin:3px 4px 0}",
    ".pcw-pending .pcw-bubble{opacity:.65}",
    ".pcw-failed .pcw-bubble{opacity:.65;outline:2px solid #c0392b}",
    ".pcw-img{display:block;max-width:100%;border-radius:8px;margin-top:4px}",
    ".pcw-img-link{display:block;max-width:85%}",
    ".pcw-img-title{font-size:12px;color:#666;margin-top:2px}",
    ".pcw-choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}",
    ".pcw-choice{padding:6px 12px;border:1px solid var(--pcw-primary);border-radius:16px;background:#fff;color:var(--pcw-primary);font:inherit;font-size:14px;cursor:pointer}",
    ".pcw-choice:hover{background:var(--pcw-primary);color:#fff}",
    ".pcw-choice:disabled{opacity:.5;cursor:default;background:#fff;color:var(--pcw-primary)}",
    ".pcw-typing{align-self:flex-start;display:flex;gap:4px;padding:12px 14px;background:#fff;border-radius:12px}",
    ".pcw-typing[hidden]{display:none}",
    ".pcw-typing span{width:7px;height:7px;border-radius:50%;background:#9aa5b1;animation:pcw-blink 1.2s infinite}",
    ".pcw-typing span:nth-child(2){animation-delay:.2s}.pcw-typing span:nth-child(3){animation-delay:.4s}",
    "@keyframes pcw-blink{0%,80%,100%{opacity:.3}40%{opacity:1}}",
    ".pcw-composer{display:flex;gap:8px;padding:10px;border-top:1px solid #dde3e9;background:#fff}",
    ".pcw-input{flex:1;min-height:42px;max-height:120px;resize:none;padding:9px 10px;border:1px solid #c5ced8;border-radius:10px;font:inherit}",
    ".pcw-send{flex:none;min-width:64px;border:0;border-radius:10px;background:var(--pcw-primary);color:#fff;font:inherit;font-weight:600;cursor:pointer}",
    ".pcw-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.pcw-panel{right:0;bottom:0;width:100vw;height:100vh;height:100dvh;border-radius:0}.pcw-launcher{right:16px;bottom:16px}.pcw-msg{max-width:90%}}"
  ].join("\n");

  // ---- build the widget ----
  var root = el("div", "pcw-root");
  root.style.setProperty("--pcw-primary", config.primary);
  root.style.setProperty("--pcw-accent", config.accent);
  var style = el("style", null, STYLE);

  var launcher = el("button", "pcw-launcher", "💬 在线客服");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "打开在线客服");

  var panel = el("section", "pcw-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", config.title);
  var header = el("header", "pcw-header");
  var avatar = el("div", "pcw-avatar", "电");
  avatar.setAttribute("aria-hidden", "true");
  var titles = el("div", "pcw-titles");
  titles.appendChild(el("h2", "pcw-title", config.title));
  titles.appendChild(el("p", "pcw-subtitle", config.subtitle));
  var closeButton = el("button", "pcw-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "收起客服窗口");
  header.appendChild(avatar);
  header.appendChild(titles);
  header.appendChild(closeButton);

  var status = el("div", "pcw-status", "正在连接客服…");
  status.setAttribute("role", "status");
  var log = el("div", "pcw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "聊天记录");
  log.tabIndex = 0;
  var typing = el("div", "pcw-typing");
  typing.setAttribute("aria-label", "客服正在输入");
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.hidden = true;

  var composer = el("form", "pcw-composer");
  var inputLabel = el("label", "pcw-sr", "输入您的问题");
  inputLabel.htmlFor = "pcw-input";
  var input = el("textarea", "pcw-input");
  input.id = "pcw-input";
  input.rows = 1;
  input.maxLength = 2000;
  input.placeholder = "请输入您的问题，按回车发送";
  var sendButton = el("button", "pcw-send", "发送");
  sendButton.type = "submit";
  composer.appendChild(inputLabel);
  composer.appendChild(input);
  composer.appendChild(sendButton);

  panel.appendChild(header);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(composer);
  root.appendChild(style);
  root.appendChild(launcher);
  root.appendChild(panel);

  // ---- rendering ----
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function formatTime(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) date = new Date();
    var now = new Date();
    var hm = pad(date.getHours()) + ":" + pad(date.getMinutes());
    if (date.toDateString() === now.toDateString()) return hm;
    return (date.getMonth() + 1) + "月" + date.getDate() + "日 " + hm;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function place(node, beforePending) {
    var anchor = null;
    if (beforePending) anchor = log.querySelector(".pcw-pending");
    if (!anchor) anchor = typing;
    log.insertBefore(node, anchor);
    scrollDown();
  }

  function sameOrigin(href) {
    try { return new URL(href).origin === new URL(server, location.href).origin; } catch (e) { return false; }
  }

  function safeUrl(value) {
    try {
      var url = new URL(String(value), server);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  function choicesFor(buttons, bubbleWrap, reusable) {
    var box = el("div", "pcw-choices");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "可选回复");
    buttons.forEach(function (b) {
      if (!b || !b.title) return;
      var choice = el("button", "pcw-choice", b.title);
      choice.type = "button";
      choice.addEventListener("click", function () {
        if (!reusable) Array.prototype.forEach.call(box.querySelectorAll("button"), function (x) { x.disabled = true; });
        send(String(b.payload || b.title), String(b.title));
      });
      box.appendChild(choice);
    });
    bubbleWrap.appendChild(box);
  }

  // Remembers button payloads so a restored "/intent" message shows the button's title.
  var payloadTitles = {};

  function renderServerMessage(msg, beforePending) {
    var id = msg.id;
    if (id && seenServerIds[id]) return;
    if (id) { seenServerIds[id] = true; lastServerId = Math.max(lastServerId, id); }
    var sender = msg.sender || "bot";
    if (sender === "customer") {
      if (msg.client_msg_id && customerBubbles[msg.client_msg_id]) {
        markSent(msg.client_msg_id);
        return;
      }
      var shown = payloadTitles[msg.text] || msg.text;
      var wrap = customerMessage(shown, msg.created_at);
      if (msg.client_msg_id) customerBubbles[msg.client_msg_id] = wrap;
      place(wrap, beforePending);
      return;
    }
    if (id) lastReplyId = Math.max(lastReplyId, id);
    var wrapper = el("div", "pcw-msg pcw-" + (sender === "staff" ? "staff" : sender === "system" ? "system" : "bot"));
    var who = sender === "staff" ? "人工客服" + (msg.agent ? " · " + msg.agent : "") : sender === "system" ? "系统消息" : "智能客服";
    wrapper.appendChild(el("div", "pcw-who", who));
    if (msg.text) wrapper.appendChild(el("div", "pcw-bubble", msg.text));
    var attachment = msg.attachment;
    if (attachment && attachment.payload) {
      var src = safeUrl(attachment.payload.src || attachment.payload.url);
      if (src && attachment.type === "image" && sameOrigin(src)) {
        // Only the gateway's own images load by themselves (a chart of the customer's usage);
        // anything else stays a link the customer chooses to open.
        var frame = el("a", "pcw-img-link");
        frame.href = src;
        frame.target = "_blank";
        frame.rel = "noopener noreferrer";
        var img = el("img", "pcw-img");
        img.src = src;
        img.alt = attachment.payload.title || "图片";
        img.referrerPolicy = "no-referrer";
        frame.appendChild(img);
        wrapper.appendChild(frame);
        if (attachment.payload.title) wrapper.appendChild(el("div", "pcw-img-title", attachment.payload.title));
      } else if (src) {
        var link = el("a", "pcw-bubble", attachment.payload.title || "查看附件");
        link.href = src;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        wrapper.appendChild(link);
      }
    }
    var buttons = msg.buttons || msg.quick_replies;
    if (Array.isArray(buttons) && buttons.length) {
      buttons.forEach(function (b) { if (b && b.payload) payloadTitles[String(b.payload)] = String(b.title); });
      choicesFor(buttons, wrapper);
    }
    var time = el("time", "pcw-meta", formatTime(msg.created_at));
    if (msg.created_at) time.dateTime = msg.created_at;
    wrapper.appendChild(time);
    place(wrapper, beforePending);
  }

  function customerMessage(text, createdAt) {
    var wrap = el("div", "pcw-msg pcw-customer");
    wrap.appendChild(el("div", "pcw-bubble", text));
    var time = el("time", "pcw-meta", formatTime(createdAt));
    if (createdAt) time.dateTime = createdAt;
    wrap.appendChild(time);
    return wrap;
  }

  function markSent(clientId) {
    var wrap = customerBubbles[clientId];
    if (!wrap) return;
    wrap.classList.remove("pcw-pending");
    var meta = wrap.querySelector(".pcw-meta");
    if (meta && meta.getAttribute("data-pending")) {
      meta.removeAttribute("data-pending");
      meta.textContent = meta.getAttribute("data-time");
    }
  }

  function markFailed(clientId) {
    var wrap = customerBubbles[clientId];
    if (!wrap) return;
    wrap.classList.remove("pcw-pending");
    wrap.classList.add("pcw-failed");
    var meta = wrap.querySelector(".pcw-meta");
    if (meta) {
      meta.removeAttribute("data-pending");
      meta.textContent = (meta.getAttribute("data-time") || "") + " · 未发送";
    }
  }

  function renderPending(entry) {
    var wrap = customerMessage(entry.display || entry.text, entry.at);
    wrap.classList.add("pcw-pending");
    wrap.setAttribute("data-client-id", entry.id);
    var meta = wrap.querySelector(".pcw-meta");
    meta.setAttribute("data-time", meta.textContent);
    meta.setAttribute("data-pending", "1");
    meta.textContent = meta.textContent + " · 发送中";
    customerBubbles[entry.id] = wrap;
    log.insertBefore(wrap, typing);
    scrollDown();
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) {
      log.appendChild(typing);
      scrollDown();
      typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
    }
  }

  function setStatus(text) {
    status.hidden = !text;
    status.textContent = text || "";
  }

  // ---- sending (outbox first: nothing typed is lost while the network is down) ----
  function newClientId() {
    var rand = (window.crypto && window.crypto.getRandomValues)
      ? Array.prototype.map.call(window.crypto.getRandomValues(new Uint8Array(8)), function (b) { return pad(b.toString(16)); }).join("")
      : Math.random().toString(16).slice(2);
    return "w" + Date.now().toString(36) + "-" + rand;
  }

  function send(text, display) {
    text = String(text || "");
    if (!text.trim()) return;
    var entry = { id: newClientId(), text: text, display: display && display !== text ? display : undefined, at: new Date().toISOString() };
    state.outbox.push(entry);
    persist();
    renderPending(entry);
    transmit(entry);
  }

  function transmit(entry) {
    if (!socket || !socket.connected || !confirmed || inFlight[entry.id]) return;
    inFlight[entry.id] = true;
    socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", {
      message: entry.text, session_id: state.sessionId, message_id: entry.id, customData: { language: "zh-CN" }
    }, function (err, ack) {
      delete inFlight[entry.id];
      if (err || !ack) return; // no answer: it stays in the outbox and goes again on reconnect
      // A refusal ("retry": false, or an older server's too_long/empty_message) is final; a store
      // failure ("not_stored") goes again on reconnect, but not forever.
      var refused = !ack.ok && (ack.retry === false || ack.error === "too_long" || ack.error === "empty_message");
      if (!ack.ok && !refused && ack.error === "not_stored") {
        entry.failures = (entry.failures || 0) + 1;
        refused = entry.failures >= MAX_STORE_FAILURES;
        persist();
      }
      if (ack.ok || refused) {
        state.outbox = state.outbox.filter(function (x) { return x.id !== entry.id; });
        persist();
        if (ack.id) { seenServerIds[ack.id] = true; lastServerId = Math.max(lastServerId, ack.id); }
        if (ack.ok) markSent(entry.id); else markFailed(entry.id);
        if (ack.ok && !ack.duplicate && ack.state === "bot" && !(lastReplyId > ack.id)) showTyping(true);
      }
    });
  }

  function flushOutbox() { state.outbox.slice().forEach(transmit); }

  // ---- connection ----
  function onConfirm(sessionId) {
    if (typeof sessionId === "object" && sessionId) sessionId = sessionId.session_id;
    if (state.sessionId && state.sessionId !== sessionId) {
      // The server gave a new session: the old history is not ours to show any more.
      Array.prototype.forEach.call(log.querySelectorAll(".pcw-msg:not(.pcw-greeting):not(.pcw-pending)"), function (n) { n.remove(); });
      seenServerIds = {};
      lastServerId = 0;
    }
    state.sessionId = sessionId;
    persist();
    socket.timeout(ACK_TIMEOUT_MS).emit("history", { session_id: sessionId, after: lastServerId }, function (err, answer) {
      if (!err && answer && Array.isArray(answer.messages)) {
        answer.messages.forEach(function (m) { renderServerMessage(m, true); });
      }
      confirmed = true;
      setStatus("");
      flushOutbox();
    });
  }

  function connect() {
    socket = window.io(server, { path: "/socket.io/", reconnectionDelay: 500, reconnectionDelayMax: 5000 });
    socket.on("connect", function () {
      confirmed = false;
      everConnected = true;
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", onConfirm);
    socket.on("bot_uttered", function (payload) {
      if (!payload) return;
      var meta = payload.metadata || {};
      showTyping(false);
      renderServerMessage({
        id: meta.message_id, sender: meta.sender || "bot", agent: meta.agent, text: payload.text,
        buttons: payload.buttons || payload.quick_replies, attachment: payload.attachment, created_at: meta.created_at
      }, false);
    });
    socket.on("disconnect", function () {
      confirmed = false;
      showTyping(false);
      setStatus("网络连接已断开，正在重新连接…您发送的消息会在恢复后自动送达。");
    });
    socket.on("connect_error", function () {
      setStatus(everConnected ? "网络连接已断开，正在重新连接…您发送的消息会在恢复后自动送达。" : "正在连接客服…");
    });
  }

  // ---- open/close and keyboard ----
  function setOpen(open) {
    state.open = open;
    persist();
    panel.hidden = !open;
    launcher.hidden = open;
    if (open) { scrollDown(); input.focus(); } else { launcher.focus(); }
  }
  launcher.addEventListener("click", function () { setOpen(true); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
  composer.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit ? composer.requestSubmit() : composer.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function start() {
    document.body.appendChild(root);
    var greeting = el("div", "pcw-msg pcw-bot pcw-greeting");
    greeting.appendChild(el("div", "pcw-who", "智能客服"));
    greeting.appendChild(el("div", "pcw-bubble", config.greeting));
    if (config.suggestions) {
      choicesFor(SUGGESTIONS.map(function (s) { return { title: s[0], payload: s[1] }; }), greeting, true);
    }
    log.appendChild(greeting);
    log.appendChild(typing);
    state.outbox.forEach(renderPending);
    setOpen(state.open);
    if (!state.open) launcher.blur();
    loadClient(connect);
  }

  function loadClient(done) {
    if (window.io) return done();
    var tag = document.createElement("script");
    tag.src = server + "/static/socket.io.min.js";
    tag.onload = done;
    tag.onerror = function () { setStatus("客服暂时无法连接，请稍后刷新页面或拨打95598。"); };
    document.head.appendChild(tag);
  }

  window.PowerChat = {
    loaded: true,
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    send: function (text) { send(text); },
    sessionId: function () { return state.sessionId; },
    socket: function () { return socket; },
    pendingCount: function () { return state.outbox.length; },
    failedCount: function () { return log.querySelectorAll(".pcw-failed").length; }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
