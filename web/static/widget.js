/*
 * Yatri's traveller widget: one <script src="https://YATRI/widget.js" defer></script> on any
 * page. Everything it draws lives in a Shadow DOM with its own stylesheet, so the host page's
 * styles never reach in and the widget's never leak out. No framework, no build step.
 *
 * Options: data- attributes on the script tag, or window.YatriWidgetOptions before it loads:
 *   data-mode="floating" (a launcher button, the default) | "inline" (drawn into data-target)
 *   data-target="#selector"      where an inline widget goes
 *   data-lang="en" | "hi"        interface language (the traveller can switch)
 *   data-echo-cancellation="off" turn the microphone's echo cancellation off (tests)
 *
 * Text turns are POST /v1/chat; voice is WS /v1/voice/stream (a token from
 * POST /v1/voice/tokens, then 16 kHz PCM16 frames from an AudioWorklet).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var scriptUrl = new URL(script && script.src ? script.src : "/widget.js", location.href);
  var ORIGIN = scriptUrl.origin;
  var VERSION = "__YATRI_VERSION__";
  var STORE = "yatri-widget:";

  function option(name, fallback) {
    var given = window.YatriWidgetOptions || {};
    if (given[name] !== undefined) return given[name];
    var attr = script ? script.getAttribute("data-" + name.replace(/[A-Z]/g, function (c) {
      return "-" + c.toLowerCase();
    })) : null;
    return attr !== null ? attr : fallback;
  }

  var TEXT = {
    en: {
      title: "Yatri", subtitle: "Flights, hotels and travel policies",
      open: "Chat with Yatri", close: "Close", conversation: "Conversation",
      message: "Message", placeholder: "Ask for flights, hotels or a policy…",
      send: "Send", speak: "Speak", stopSpeaking: "Stop voice",
      signIn: "Sign in", signOut: "Sign out", guest: "Guest",
      signedInAs: "Signed in as {who}", tokenLabel: "Traveller token", useToken: "Use token",
      devSignIn: "Development sign-in as {who}", signInHelp: "Sign in to book. Paste the token your app gives you.",
      quickReplies: "Quick replies", yes: "Yes, book it", no: "No", cancel: "Never mind",
      justMe: "Just me", choose: "Choose {n}",
      connecting: "Connecting…", listening: "Listening…", thinking: "Thinking…", speaking: "Speaking…",
      voiceState: "Voice", micDenied: "The microphone is blocked, so voice is off. You can keep typing.",
      micMissing: "No microphone was found. You can keep typing.",
      voiceLost: "Voice was disconnected ({why}). You can keep typing.",
      voiceUnavailable: "Voice is not available right now ({why}). You can keep typing.",
      sendFailed: "That message was not sent: {why}", signInFailed: "Sign-in failed: {why}",
      signedOutExpired: "Your sign-in has expired. Sign in again to book.",
      you: "You", yatri: "Yatri", heard: "Heard", typing: "Yatri is typing…",
      refundable: "Refundable", nonRefundable: "Non-refundable", seatsLeft: "{n} seats left",
      nextDay: "+1 day", stars: "{n}-star", nights: "total with taxes",
      booking: "Booking", pnr: "PNR", status: "Status", paid: "Paid", total: "Total",
      sources: "Sources", section: "Section", version: "version {n}", quote: "Quote",
      language: "हिन्दी", languageName: "Switch the interface to Hindi", otpHint: "Type the six-digit code.",
      welcome: "Hello! Ask me for flights (\u201cflights from Delhi to Mumbai on 20 December\u201d), hotels, or a travel policy question."
    },
    hi: {
      title: "यात्री", subtitle: "उड़ानें, होटल और यात्रा नियम",
      open: "यात्री से बात करें", close: "बंद करें", conversation: "बातचीत",
      message: "संदेश", placeholder: "उड़ान, होटल या नियम के बारे में पूछें…",
      send: "भेजें", speak: "बोलें", stopSpeaking: "आवाज़ बंद करें",
      signIn: "साइन इन", signOut: "साइन आउट", guest: "मेहमान",
      signedInAs: "{who} के रूप में साइन इन", tokenLabel: "यात्री टोकन", useToken: "टोकन लगाएँ",
      devSignIn: "डेवलपमेंट साइन-इन: {who}", signInHelp: "बुकिंग के लिए साइन इन करें। अपने ऐप का टोकन चिपकाएँ।",
      quickReplies: "झटपट जवाब", yes: "हाँ, बुक करें", no: "नहीं", cancel: "रहने दें",
      justMe: "सिर्फ़ मैं", choose: "{n} चुनें",
      connecting: "जुड़ रहा है…", listening: "सुन रहा है…", thinking: "सोच रहा है…", speaking: "बोल रहा है…",
      voiceState: "आवाज़", micDenied: "माइक्रोफ़ोन की अनुमति नहीं है, इसलिए आवाज़ बंद है। आप लिखकर बात जारी रख सकते हैं।",
      micMissing: "कोई माइक्रोफ़ोन नहीं मिला। आप लिखकर बात जारी रख सकते हैं।",
      voiceLost: "आवाज़ का कनेक्शन टूट गया ({why})। आप लिखकर बात जारी रख सकते हैं।",
      voiceUnavailable: "आवाज़ अभी उपलब्ध नहीं है ({why})। आप लिखकर बात जारी रख सकते हैं।",
      sendFailed: "संदेश नहीं भेजा जा सका: {why}", signInFailed: "साइन इन नहीं हो सका: {why}",
      signedOutExpired: "आपका साइन-इन समाप्त हो गया है। बुकिंग के लिए फिर से साइन इन करें।",
      you: "आप", yatri: "यात्री", heard: "सुना", typing: "यात्री लिख रहा है…",
      refundable: "रिफ़ंड योग्य", nonRefundable: "रिफ़ंड नहीं", seatsLeft: "{n} सीटें बाकी",
      nextDay: "+1 दिन", stars: "{n}-स्टार", nights: "टैक्स सहित कुल",
      booking: "बुकिंग", pnr: "PNR", status: "स्थिति", paid: "भुगतान", total: "कुल",
      sources: "स्रोत", section: "खंड", version: "संस्करण {n}", quote: "उद्धरण",
      language: "English", languageName: "इंटरफ़ेस अंग्रेज़ी में बदलें", otpHint: "छह अंकों का कोड लिखें।",
      welcome: "नमस्ते! उड़ानें (\u201cflights from Delhi to Mumbai on 20 December\u201d), होटल या यात्रा नियमों के बारे में पूछें। यात्री के जवाब अंग्रेज़ी में आते हैं।"
    }
  };
  var ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"];
  var QUICK_CHOICES = 3;
  var MAX_PENDING_FRAMES = 400;  // 8 s of 20 ms frames held while the stream opens  // chips under the log; every card has its own button

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function rupees(paise) {
    return new Intl.NumberFormat("en-IN", {
      style: "currency", currency: "INR", maximumFractionDigits: 0
    }).format(Math.round(paise / 100));
  }

  function clock(iso) { return iso ? iso.slice(11, 16) : ""; }

  function duration(minutes) {
    var h = Math.floor(minutes / 60), m = minutes % 60;
    return h + "h " + (m < 10 ? "0" : "") + m + "m";
  }

  function problemText(body, status) {
    if (body && (body.detail || body.title)) return body.detail || body.title;
    return "HTTP " + status;
  }

  function Widget(host, shadow, mode) {
    this.host = host;
    this.shadow = shadow;
    this.mode = mode;
    this.lang = sessionStorage.getItem(STORE + "lang") || option("lang", "en");
    if (!TEXT[this.lang]) this.lang = "en";
    this.token = sessionStorage.getItem(STORE + "token");
    this.traveller = sessionStorage.getItem(STORE + "traveller");
    this.sessionId = sessionStorage.getItem(STORE + "session");
    this.config = { development: false, voice: true, sandbox_travellers: [] };
    this.lastData = null;
    this.voice = null;
    this.stats = { audioReceived: 0, audioStarted: 0, audioEnded: 0, audioStopped: 0, clears: 0 };
    this.build();
    this.publishStats();
    this.loadConfig();
  }

  Widget.prototype.t = function (key, values) {
    var s = (TEXT[this.lang] || TEXT.en)[key] || TEXT.en[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(values[k])); });
    return s;
  };

  Widget.prototype.build = function () {
    var self = this;
    var root = this.shadow;
    root.appendChild(el("link", { rel: "stylesheet", href: ORIGIN + "/web/widget.css?v=" + VERSION }));
    var wrap = el("div", { className: "yatri " + this.mode });
    if (this.mode === "floating") {
      this.launcher = el("button", {
        type: "button", className: "launcher", "aria-expanded": "false",
        onclick: function () { self.setOpen(true); }
      });
      wrap.appendChild(this.launcher);
    }
    this.panel = el("section", { className: "panel", role: "region", hidden: this.mode === "floating" });
    this.heading = el("h2", { className: "title", id: "yatri-title" });
    this.subtitle = el("p", { className: "subtitle" });
    this.who = el("p", { className: "who" });
    this.langButton = el("button", { type: "button", className: "ghost lang", onclick: function () {
      self.setLanguage(self.lang === "en" ? "hi" : "en");
    } });
    this.signButton = el("button", { type: "button", className: "ghost sign", "aria-expanded": "false",
      "aria-controls": "yatri-signin", onclick: function () { self.toggleSignIn(); } });
    var tools = el("div", { className: "tools" }, [this.langButton, this.signButton]);
    if (this.mode === "floating") {
      this.closeButton = el("button", { type: "button", className: "ghost close",
        onclick: function () { self.setOpen(false); } });
      tools.appendChild(this.closeButton);
    }
    var header = el("header", null, [el("div", { className: "brand" }, [this.heading, this.subtitle, this.who]), tools]);

    this.tokenInput = el("input", { id: "yatri-token", type: "password", autocomplete: "off", spellcheck: "false" });
    this.tokenLabel = el("label", { for: "yatri-token" });
    this.useTokenButton = el("button", { type: "submit" });
    this.signInHelp = el("p", { className: "help" });
    this.devButtons = el("div", { className: "dev" });
    this.signInForm = el("form", { className: "signin", id: "yatri-signin", hidden: true, onsubmit: function (e) {
      e.preventDefault();
      self.signIn(self.tokenInput.value.trim(), null);
    } }, [this.signInHelp, this.tokenLabel, el("div", { className: "row" }, [this.tokenInput, this.useTokenButton]), this.devButtons]);

    this.log = el("div", { className: "log", role: "log", "aria-live": "polite", tabindex: "0" });
    this.statusLine = el("p", { className: "status", role: "status", "aria-live": "polite" });
    this.live = el("p", { className: "live", "aria-live": "off" });
    this.quick = el("div", { className: "quick", role: "group" });
    this.input = el("input", { id: "yatri-message", type: "text", autocomplete: "off", maxlength: "2000", enterkeyhint: "send" });
    this.inputLabel = el("label", { for: "yatri-message", className: "visually-hidden" });
    this.sendButton = el("button", { type: "submit", className: "send" });
    this.speakButton = el("button", { type: "button", className: "speak", "aria-pressed": "false",
      onclick: function () { self.toggleVoice(); } });
    var composer = el("form", { className: "composer", onsubmit: function (e) {
      e.preventDefault();
      var text = self.input.value.trim();
      if (!text) return;
      self.input.value = "";
      self.send(text);
    } }, [this.inputLabel, this.input, this.sendButton, this.speakButton]);

    this.panel.appendChild(header);
    this.panel.appendChild(this.signInForm);
    this.panel.appendChild(this.log);
    this.panel.appendChild(this.live);
    this.panel.appendChild(this.statusLine);
    this.panel.appendChild(this.quick);
    this.panel.appendChild(composer);
    this.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && self.mode === "floating") self.setOpen(false);
    });
    wrap.appendChild(this.panel);
    root.appendChild(wrap);
    this.welcome = this.addMessage("bot", "");
    this.setVoiceState("idle");
    this.renderText();
  };

  Widget.prototype.renderText = function () {
    var t = this.t.bind(this);
    this.host.setAttribute("lang", this.lang);
    this.panel.setAttribute("aria-labelledby", "yatri-title");
    this.heading.textContent = t("title");
    this.subtitle.textContent = t("subtitle");
    this.who.textContent = this.traveller ? t("signedInAs", { who: this.travellerName() }) : t("guest");
    this.langButton.textContent = t("language");
    this.langButton.setAttribute("aria-label", t("languageName"));
    this.langButton.setAttribute("lang", this.lang === "en" ? "hi" : "en");
    this.signButton.textContent = this.token ? t("signOut") : t("signIn");
    if (this.closeButton) this.closeButton.textContent = t("close");
    if (this.launcher) this.launcher.textContent = t("open");
    this.tokenLabel.textContent = t("tokenLabel");
    this.useTokenButton.textContent = t("useToken");
    this.signInHelp.textContent = t("signInHelp");
    this.log.setAttribute("aria-label", t("conversation"));
    this.quick.setAttribute("aria-label", t("quickReplies"));
    this.inputLabel.textContent = t("message");
    this.input.setAttribute("placeholder", t("placeholder"));
    this.sendButton.textContent = t("send");
    this.speakButton.textContent = this.voice ? t("stopSpeaking") : t("speak");
    this.welcome.querySelector(".text").textContent = t("welcome");
    this.renderDevButtons();
    this.renderQuickReplies(this.lastData);
    this.setVoiceState(this.voiceState || "idle");
  };

  Widget.prototype.setLanguage = function (lang) {
    this.lang = lang;
    sessionStorage.setItem(STORE + "lang", lang);
    this.renderText();
    this.langButton.focus();
  };

  Widget.prototype.setOpen = function (open) {
    this.panel.hidden = !open;
    this.launcher.hidden = open;
    this.launcher.setAttribute("aria-expanded", String(open));
    if (open) this.input.focus();
    else this.launcher.focus();
  };

  Widget.prototype.loadConfig = function () {
    var self = this;
    fetch(ORIGIN + "/web/config.json").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (config) {
        if (!config) return;
        self.config = config;
        self.renderDevButtons();
        self.host.setAttribute("data-ready", "true");
      })
      .catch(function () { self.host.setAttribute("data-ready", "true"); });
  };

  Widget.prototype.travellerName = function () {
    var id = this.traveller;
    var known = (this.config.sandbox_travellers || []).filter(function (p) { return p.traveller_id === id; });
    return known.length ? known[0].name : id;
  };

  Widget.prototype.renderDevButtons = function () {
    var self = this;
    this.devButtons.textContent = "";
    if (!this.config.development) return;
    (this.config.sandbox_travellers || []).forEach(function (p) {
      self.devButtons.appendChild(el("button", { type: "button", className: "ghost", text: self.t("devSignIn", { who: p.name }),
        onclick: function () { self.devSignIn(p.traveller_id); } }));
    });
  };

  Widget.prototype.toggleSignIn = function () {
    if (this.token) {
      this.signOut();
      return;
    }
    var open = this.signInForm.hidden;
    this.signInForm.hidden = !open;
    this.signButton.setAttribute("aria-expanded", String(open));
    if (open) this.tokenInput.focus();
  };

  Widget.prototype.devSignIn = function (travellerId) {
    var self = this;
    fetch(ORIGIN + "/web/dev-token", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ traveller_id: travellerId })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(problemText(body, r.status));
        self.signIn(body.token, body.traveller_id);
      });
    }).catch(function (e) { self.notice(self.t("signInFailed", { why: e.message })); });
  };

  Widget.prototype.signIn = function (token, travellerId) {
    if (!token) return;
    var who = travellerId;
    if (!who) {
      try {
        who = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub;
      } catch (e) {
        this.notice(this.t("signInFailed", { why: "not a token" }));
        return;
      }
    }
    this.token = token;
    this.traveller = who;
    // A guest's conversation is not the traveller's: start a new one.
    this.sessionId = null;
    sessionStorage.setItem(STORE + "token", token);
    sessionStorage.setItem(STORE + "traveller", who);
    sessionStorage.removeItem(STORE + "session");
    this.tokenInput.value = "";
    this.signInForm.hidden = true;
    this.signButton.setAttribute("aria-expanded", "false");
    this.renderText();
    this.input.focus();
  };

  Widget.prototype.signOut = function () {
    this.token = null;
    this.traveller = null;
    this.sessionId = null;
    ["token", "traveller", "session"].forEach(function (k) { sessionStorage.removeItem(STORE + k); });
    this.renderText();
  };

  Widget.prototype.headers = function () {
    var h = { "content-type": "application/json" };
    if (this.token) h.authorization = "Bearer " + this.token;
    return h;
  };

  Widget.prototype.rememberSession = function (id) {
    if (!id) return;
    this.sessionId = id;
    sessionStorage.setItem(STORE + "session", id);
  };

  // --- text turns --------------------------------------------------------------------------

  Widget.prototype.send = function (text, retried) {
    var self = this;
    if (!retried) this.addMessage("user", text);
    this.renderQuickReplies(null);
    this.host.setAttribute("data-busy", "true");
    this.statusLine.textContent = this.t("typing");
    var body = { text: text };
    if (this.sessionId) body.session_id = this.sessionId;
    performance.mark("yatri:send");
    return fetch(ORIGIN + "/v1/chat", { method: "POST", headers: this.headers(), body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (payload) {
          if (r.status === 403 && self.sessionId && !retried) {
            self.sessionId = null;  // someone else's conversation (e.g. before sign-in): a new one
            return self.send(text, true);
          }
          if (r.status === 401 && self.token) {
            self.signOut();
            self.notice(self.t("signedOutExpired"));
            return null;
          }
          if (!r.ok) throw new Error(problemText(payload, r.status));
          self.rememberSession(payload.session_id);
          self.showReply(payload.reply, payload.data || {});
          performance.mark("yatri:reply-shown");
          return payload;
        });
      })
      .catch(function (e) { self.notice(self.t("sendFailed", { why: e.message })); })
      .then(function (result) {
        self.host.removeAttribute("data-busy");
        if (self.voiceState === "idle") self.statusLine.textContent = "";
        return result;
      });
  };

  Widget.prototype.addMessage = function (who, text, extraClass) {
    var label = who === "user" ? this.t("you") : this.t("yatri");
    var node = el("div", { className: "msg " + who + (extraClass ? " " + extraClass : "") }, [
      el("span", { className: "visually-hidden speaker", text: label + ": " }),
      el("p", { className: "text", text: text })
    ]);
    this.log.appendChild(node);
    this.log.scrollTop = this.log.scrollHeight;
    return node;
  };

  Widget.prototype.notice = function (text) {
    var node = this.addMessage("bot", text, "notice");
    node.setAttribute("role", "alert");
    return node;
  };

  Widget.prototype.showReply = function (reply, data) {
    var node = this.addMessage("bot", reply);
    var cards = this.cards(data);
    if (cards.childNodes.length) node.appendChild(cards);
    this.lastData = data;
    this.renderQuickReplies(data);
    // A reply is read from its first line: a long list of cards must not scroll it away.
    this.log.scrollTop = Math.max(0, node.offsetTop - this.log.clientHeight / 4);
    return node;
  };

  Widget.prototype.cards = function (data) {
    var self = this;
    var box = el("div", { className: "cards" });
    var choosing = data.expecting === "choice";
    (data.offers || []).forEach(function (offer, i) { box.appendChild(self.flightCard(offer, i, choosing)); });
    (data.hotels || []).forEach(function (hotel, i) { box.appendChild(self.hotelCard(hotel, i, choosing)); });
    if (data.booking) box.appendChild(this.bookingCard(data.booking));
    if (data.quote && data.quote.summary) {
      box.appendChild(el("article", { className: "card quote" }, [el("p", { text: data.quote.summary })]));
    }
    if (data.citations && data.citations.length) box.appendChild(this.policyCard(data.citations));
    return box;
  };

  Widget.prototype.flightCard = function (o, i, choosing) {
    var self = this;
    var nextDay = o.arrival && o.departure && o.arrival.slice(0, 10) !== o.departure.slice(0, 10);
    var price = o.price && o.price.display ? o.price.display : rupees(o.price ? o.price.total_paise : 0);
    var card = el("article", { className: "card flight", "aria-label": o.carrier + " " + o.flight_number + ", " + price }, [
      el("div", { className: "row top" }, [
        el("span", { className: "carrier", text: o.carrier + " · " + o.flight_number }),
        el("strong", { className: "price", text: price })
      ]),
      el("div", { className: "row times" }, [
        el("span", { className: "time", text: clock(o.departure) + " " + o.from }),
        el("span", { className: "arrow", "aria-hidden": "true", text: "→" }),
        el("span", { className: "time", text: clock(o.arrival) + " " + o.to + (nextDay ? " (" + self.t("nextDay") + ")" : "") }),
        el("span", { className: "duration", text: duration(o.duration_minutes || 0) })
      ]),
      el("div", { className: "row tags" }, [
        el("span", { className: "tag fare", text: o.fare_family }),
        el("span", { className: "tag " + (o.refundable ? "ok" : "no"), text: o.refundable ? self.t("refundable") : self.t("nonRefundable") }),
        o.seats_left && o.seats_left < 10 ? el("span", { className: "tag", text: self.t("seatsLeft", { n: o.seats_left }) }) : null
      ])
    ]);
    if (choosing && i < ORDINALS.length) {
      card.appendChild(el("button", { type: "button", className: "choose", text: self.t("choose", { n: i + 1 }),
        "aria-label": self.t("choose", { n: i + 1 }) + ": " + o.flight_number + " " + price,
        onclick: function () { self.send("book the " + ORDINALS[i] + " one"); } }));
    }
    return card;
  };

  Widget.prototype.hotelCard = function (h, i, choosing) {
    var self = this;
    var price = rupees(h.total_paise || 0);
    var card = el("article", { className: "card hotel", "aria-label": h.name + ", " + price }, [
      el("div", { className: "row top" }, [
        el("span", { className: "carrier", text: h.name }),
        el("strong", { className: "price", text: price })
      ]),
      el("div", { className: "row tags" }, [
        el("span", { className: "tag", text: self.t("stars", { n: h.stars }) }),
        el("span", { className: "tag", text: h.area }),
        el("span", { className: "tag", text: h.room_type }),
        el("span", { className: "tag fare", text: self.t("nights") })
      ])
    ]);
    if (choosing && i < ORDINALS.length) {
      card.appendChild(el("button", { type: "button", className: "choose", text: self.t("choose", { n: i + 1 }),
        "aria-label": self.t("choose", { n: i + 1 }) + ": " + h.name + " " + price,
        onclick: function () { self.send("book the " + ORDINALS[i] + " one"); } }));
    }
    return card;
  };

  Widget.prototype.bookingCard = function (b) {
    var t = this.t.bind(this);
    var flight = b.flight || {};
    var rows = [
      [t("pnr"), b.pnr || "—"],
      [t("status"), b.status],
      flight.flight_number ? [flight.flight_number, (flight.origin || "") + " → " + (flight.destination || "") + " · " + (flight.date || "")] : null,
      b.paid_paise ? [t("paid"), rupees(b.paid_paise)] : (b.total_paise ? [t("total"), rupees(b.total_paise)] : null)
    ];
    var list = el("dl");
    rows.forEach(function (row) {
      if (!row) return;
      list.appendChild(el("dt", { text: row[0] }));
      list.appendChild(el("dd", { text: row[1], className: row[0] === t("pnr") ? "pnr" : null }));
    });
    return el("article", { className: "card booking status-" + b.status, "aria-label": t("booking") + " " + (b.pnr || "") }, [
      el("h3", { text: t("booking") }), list
    ]);
  };

  Widget.prototype.policyCard = function (citations) {
    var t = this.t.bind(this);
    var list = el("ol", { className: "citations" });
    citations.forEach(function (c) {
      var source = c.uri && /^https?:/.test(c.uri)
        ? el("a", { href: c.uri, target: "_blank", rel: "noopener noreferrer", text: c.title || c.document })
        : el("span", { text: c.title || c.document });
      list.appendChild(el("li", { className: "citation" }, [
        el("p", { className: "doc" }, [source, el("span", { className: "meta", text: " · " + c.document + " · " + t("version", { n: c.version }) })]),
        el("p", { className: "section", text: t("section") + ": " + c.section }),
        el("blockquote", { text: c.quote })
      ]));
    });
    return el("article", { className: "card policy" }, [el("h3", { text: t("sources") }), list]);
  };

  Widget.prototype.renderQuickReplies = function (data) {
    var self = this;
    var t = this.t.bind(this);
    this.quick.textContent = "";
    if (!data) return;
    var replies = [];
    var expecting = data.expecting || "none";
    if (expecting === "confirmation") replies = [[t("yes"), "yes"], [t("no"), "no"]];
    else if (expecting === "choice") {
      var n = Math.min((data.offers || data.hotels || []).length, QUICK_CHOICES);
      for (var i = 0; i < n; i++) replies.push([t("choose", { n: i + 1 }), "book the " + ORDINALS[i] + " one"]);
      replies.push([t("cancel"), "never mind"]);
    } else if (expecting === "traveller_details") {
      if (this.token) replies.push([t("justMe"), "just me"]);
      replies.push([t("cancel"), "never mind"]);
    } else if (expecting === "otp") {
      this.quick.appendChild(el("p", { className: "hint", text: t("otpHint") }));
    } else if (expecting !== "none") replies = [[t("cancel"), "never mind"]];
    replies.forEach(function (r) {
      self.quick.appendChild(el("button", { type: "button", className: "reply", text: r[0],
        onclick: function () { self.send(r[1]); } }));
    });
  };

  // --- voice -------------------------------------------------------------------------------

  Widget.prototype.setVoiceState = function (state, detail) {
    this.voiceState = state;
    this.host.setAttribute("data-voice-state", state);
    this.panel.setAttribute("data-voice-state", state);
    var labels = { connecting: "connecting", listening: "listening", thinking: "thinking", speaking: "speaking" };
    this.statusLine.textContent = labels[state] ? this.t("voiceState") + ": " + this.t(labels[state]) : (detail || "");
    this.speakButton.setAttribute("aria-pressed", String(state !== "idle"));
    this.speakButton.textContent = state === "idle" ? this.t("speak") : this.t("stopSpeaking");
  };

  Widget.prototype.publishStats = function () {
    var s = this.stats, host = this.host;
    Object.keys(s).forEach(function (k) { host.setAttribute("data-" + k.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); }), String(s[k])); });
    host.setAttribute("data-audio-playing", String(this.voice ? this.voice.sources.length : 0));
  };

  Widget.prototype.toggleVoice = function () {
    if (this.voice) this.stopVoice(null);
    else this.startVoice();
  };

  Widget.prototype.startVoice = function () {
    var self = this;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
      this.notice(this.t("voiceUnavailable", { why: "this browser has no microphone access here" }));
      return;
    }
    var echo = String(option("echoCancellation", "on")) !== "off" && option("echoCancellation", true) !== false;
    var voice = this.voice = { ws: null, ctx: null, stream: null, node: null, sources: [], playhead: 0,
      replyEnded: false, partial: null, closedByUs: false, ready: false, pending: [] };
    performance.mark("yatri:speak");
    this.setVoiceState("connecting");
    var Ctx = window.AudioContext || window.webkitAudioContext;
    try {
      voice.ctx = new Ctx({ sampleRate: 16000, latencyHint: "interactive" });
    } catch (e) {
      voice.ctx = new Ctx();
    }
    navigator.mediaDevices.getUserMedia({ audio: {
      channelCount: 1, echoCancellation: echo, noiseSuppression: echo, autoGainControl: echo
    } }).then(function (stream) {
      if (self.voice !== voice) { stream.getTracks().forEach(function (tr) { tr.stop(); }); return null; }
      voice.stream = stream;
      return voice.ctx.audioWorklet.addModule(ORIGIN + "/web/mic-worklet.js?v=" + VERSION).then(function () {
        // Listen from the click on: what is said before the stream is ready is sent when it is.
        self.startMicrophone(voice);
        return fetch(ORIGIN + "/v1/voice/tokens", { method: "POST", headers: self.headers(),
          body: JSON.stringify(self.sessionId ? { session_id: self.sessionId } : {}) });
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (r.status === 403 && self.sessionId) {  // another traveller's conversation
            self.sessionId = null;
            return fetch(ORIGIN + "/v1/voice/tokens", { method: "POST", headers: self.headers(), body: "{}" })
              .then(function (again) { return again.json().then(function (b) { if (!again.ok) throw new Error(problemText(b, again.status)); return b; }); });
          }
          if (!r.ok) throw new Error(problemText(body, r.status));
          return body;
        });
      }).then(function (grant) {
        if (self.voice !== voice) return;
        self.openStream(voice, grant);
      });
    }).catch(function (e) {
      if (self.voice !== voice) return;
      var denied = e && (e.name === "NotAllowedError" || e.name === "SecurityError");
      var missing = e && (e.name === "NotFoundError" || e.name === "OverconstrainedError");
      self.stopVoice(denied ? self.t("micDenied") : missing ? self.t("micMissing")
        : self.t("voiceUnavailable", { why: e && e.message ? e.message : String(e) }));
    });
  };

  Widget.prototype.openStream = function (voice, grant) {
    var self = this;
    var url = grant.stream_url || (ORIGIN.replace(/^http/, "ws") + "/v1/voice/stream");
    if (location.protocol === "https:" || ORIGIN.indexOf("https:") === 0) url = url.replace(/^ws:/, "wss:");
    var ws = voice.ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "start", token: grant.token, session_id: grant.session_id, language: "en" }));
    };
    ws.onmessage = function (event) {
      if (typeof event.data !== "string") return;
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      self.onVoiceEvent(voice, message);
    };
    ws.onclose = function (event) {
      if (self.voice !== voice || voice.closedByUs) return;
      var why = event.reason || ("code " + event.code);
      self.stopVoice(event.code === 1000 ? null : (event.code === 1011 || event.code === 1013
        ? self.t("voiceUnavailable", { why: why }) : self.t("voiceLost", { why: why })));
    };
    ws.onerror = function () { /* onclose follows with the code and reason */ };
  };

  Widget.prototype.startMicrophone = function (voice) {
    var source = voice.ctx.createMediaStreamSource(voice.stream);
    var node = voice.node = new AudioWorkletNode(voice.ctx, "yatri-mic", { numberOfOutputs: 1 });
    var mute = voice.ctx.createGain();
    mute.gain.value = 0;
    var first = true;
    node.port.onmessage = function (event) {
      if (first) { performance.mark("yatri:capture"); first = false; }
      if (voice.ready && voice.ws.readyState === WebSocket.OPEN) voice.ws.send(event.data);
      else if (!voice.ready) {
        voice.pending.push(event.data);
        if (voice.pending.length > MAX_PENDING_FRAMES) voice.pending.shift();
      }
    };
    source.connect(node);
    node.connect(mute);
    mute.connect(voice.ctx.destination);
    voice.source = source;
    if (voice.ctx.state === "suspended") voice.ctx.resume();
  };

  Widget.prototype.onVoiceEvent = function (voice, m) {
    switch (m.type) {
      case "ready":
        this.rememberSession(m.session_id);
        performance.mark("yatri:ready");
        voice.ready = true;
        voice.pending.splice(0).forEach(function (frame) { voice.ws.send(frame); });
        this.setVoiceState("listening");
        break;
      case "speech_started":
        performance.mark("yatri:speech_started");
        if (this.voiceState !== "speaking") this.setVoiceState("listening");
        break;
      case "partial":
        this.showPartial(voice, m.text || "");
        break;
      case "final":
        performance.mark("yatri:final");
        this.clearPartial(voice);
        if (m.text) this.addMessage("user", m.text, "spoken");
        this.host.setAttribute("data-last-transcript", m.text || "");
        this.setVoiceState("thinking");
        break;
      case "reply":
        voice.replyEnded = false;
        this.showReply(m.text || "", m.data || {});
        performance.mark("yatri:reply");
        break;
      case "audio":
        this.playAudio(voice, m);
        break;
      case "reply_end":
        voice.replyEnded = true;
        if (!voice.sources.length) this.setVoiceState("listening");
        break;
      case "clear":
        this.stats.clears += 1;
        this.stopPlayback(voice);
        this.setVoiceState("listening");
        break;
      case "error":
        this.notice(this.t("voiceUnavailable", { why: m.detail || m.code }));
        break;
    }
  };

  Widget.prototype.showPartial = function (voice, text) {
    if (!voice.partial) {
      voice.partial = this.addMessage("user", "", "partial");
      voice.partial.setAttribute("aria-hidden", "true");
    }
    voice.partial.querySelector(".text").textContent = text;
    this.live.textContent = text;
    this.host.setAttribute("data-partial", text);
  };

  Widget.prototype.clearPartial = function (voice) {
    if (voice.partial) voice.partial.remove();
    voice.partial = null;
    this.live.textContent = "";
  };

  Widget.prototype.playAudio = function (voice, m) {
    var self = this;
    var bytes = atob(m.data || "");
    var samples = Math.floor(bytes.length / 2);
    if (!samples) return;
    var rate = m.sample_rate || 16000;
    var buffer = voice.ctx.createBuffer(1, samples, rate);
    var channel = buffer.getChannelData(0);
    for (var i = 0; i < samples; i++) {
      var v = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      channel[i] = (v >= 0x8000 ? v - 0x10000 : v) / 32768;
    }
    var source = voice.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(voice.ctx.destination);
    var start = Math.max(voice.ctx.currentTime + 0.02, voice.playhead);
    voice.playhead = start + buffer.duration;
    source.onended = function () {
      var at = voice.sources.indexOf(source);
      if (at >= 0) voice.sources.splice(at, 1);
      if (!source.stopped) self.stats.audioEnded += 1;
      self.publishStats();
      if (self.voice === voice && !voice.sources.length && voice.replyEnded && self.voiceState === "speaking") {
        self.setVoiceState("listening");
      }
    };
    voice.sources.push(source);
    source.start(start);
    this.stats.audioReceived += 1;
    if (this.stats.audioStarted === 0 || this.voiceState !== "speaking") performance.mark("yatri:first-audio");
    this.stats.audioStarted += 1;
    this.setVoiceState("speaking");
    this.publishStats();
  };

  Widget.prototype.stopPlayback = function (voice) {
    var self = this;
    voice.sources.slice().forEach(function (source) {
      source.stopped = true;
      try { source.stop(); } catch (e) { /* not started yet */ }
      self.stats.audioStopped += 1;
    });
    voice.sources = [];
    voice.playhead = 0;
    this.publishStats();
  };

  Widget.prototype.stopVoice = function (message) {
    var voice = this.voice;
    if (!voice) return;
    this.voice = null;
    voice.closedByUs = true;
    this.clearPartial(voice);
    this.stopPlayback(voice);
    if (voice.ws) {
      try {
        if (voice.ws.readyState === WebSocket.OPEN) voice.ws.send(JSON.stringify({ type: "stop" }));
        voice.ws.close(1000);
      } catch (e) { /* already closed */ }
    }
    if (voice.node) voice.node.port.onmessage = null;
    if (voice.stream) voice.stream.getTracks().forEach(function (tr) { tr.stop(); });
    if (voice.ctx) voice.ctx.close();
    this.setVoiceState("idle");
    if (message) this.notice(message);
    this.publishStats();
    this.input.focus();
  };

  // --- mounting ----------------------------------------------------------------------------

  function mount() {
    var mode = option("mode", "floating") === "inline" ? "inline" : "floating";
    var target = mode === "inline" ? document.querySelector(option("target", "#yatri")) : null;
    if (mode === "inline" && !target) mode = "floating";
    var host = document.createElement("yatri-widget");
    if (mode === "floating") {
      host.style.position = "fixed";
      host.style.right = "16px";
      host.style.bottom = "16px";
      host.style.zIndex = "2147483000";
      document.body.appendChild(host);
    } else {
      host.style.display = "block";
      host.style.height = "100%";
      target.appendChild(host);
    }
    var shadow = host.attachShadow({ mode: "open" });
    var widget = new Widget(host, shadow, mode);
    window.YatriWidget = widget;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
