/*
 * Yatri's content console: the document API (GET/POST/DELETE /v1/documents) behind the content
 * credential, and POST /v1/answers to try a question. The credential stays in this tab's
 * sessionStorage only.
 */
(function () {
  "use strict";

  var KEY = "yatri-console:credential";
  var $ = function (id) { return document.getElementById(id); };
  var credential = sessionStorage.getItem(KEY);

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function problem(body, status) {
    return (body && (body.detail || body.title)) || "HTTP " + status;
  }

  function api(method, path, body) {
    var headers = { authorization: "Bearer " + credential };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 204) return null;
        return r.json().catch(function () { return {}; }).then(function (payload) {
          if (!r.ok) {
            var error = new Error(problem(payload, r.status));
            error.status = r.status;
            throw error;
          }
          return payload;
        });
      });
  }

  function setStatus(text, isError) {
    var status = $("cred-status");
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function signIn(value) {
    credential = value;
    return api("GET", "/v1/documents").then(function (docs) {
      sessionStorage.setItem(KEY, value);
      $("work").hidden = false;
      $("sign-out").hidden = false;
      $("cred").value = "";
      setStatus("Signed in.");
      renderDocuments(docs);
    }).catch(function (e) {
      credential = null;
      sessionStorage.removeItem(KEY);
      $("work").hidden = true;
      setStatus("Not signed in: " + e.message, true);
    });
  }

  function signOut() {
    credential = null;
    sessionStorage.removeItem(KEY);
    $("work").hidden = true;
    $("sign-out").hidden = true;
    setStatus("Signed out.");
  }

  function refresh() {
    return api("GET", "/v1/documents").then(renderDocuments).catch(function (e) {
      setStatus("Could not list the documents: " + e.message, true);
    });
  }

  function renderDocuments(docs) {
    var body = $("docs").querySelector("tbody");
    body.textContent = "";
    docs.sort(function (a, b) { return a.doc_id < b.doc_id ? -1 : 1; });
    $("docs-caption").textContent = docs.length + " live policy document" + (docs.length === 1 ? "" : "s");
    docs.forEach(function (d) {
      var row = el("tr", { "data-doc-id": d.doc_id }, [
        el("th", { scope: "row", text: d.doc_id }),
        el("td", { text: d.title }),
        el("td", { className: "num", text: String(d.version) }),
        el("td", { className: "num", text: String(d.chunks) }),
        el("td", { className: "num" + (d.flagged_chunks ? " flagged" : ""), text: String(d.flagged_chunks) }),
        el("td", { text: d.effective_date || "—" }),
        el("td", { text: d.ingested_at ? d.ingested_at.slice(0, 16).replace("T", " ") : "" }),
        el("td", null, [el("button", { type: "button", className: "danger small", text: "Delete",
          "aria-label": "Delete " + d.doc_id, onclick: function () { confirmDelete(d.doc_id); } })])
      ]);
      body.appendChild(row);
    });
  }

  function confirmDelete(docId) {
    var dialog = $("confirm");
    $("confirm-text").textContent = "Delete " + docId + "? Travellers stop getting answers from it at once.";
    dialog.setAttribute("data-doc-id", docId);
    dialog.showModal();
    $("confirm-cancel").focus();
  }

  function deleteConfirmed() {
    var dialog = $("confirm");
    var docId = dialog.getAttribute("data-doc-id");
    dialog.close();
    api("DELETE", "/v1/documents/" + encodeURIComponent(docId)).then(function () {
      setStatus("Deleted " + docId + ".");
      return refresh();
    }).catch(function (e) { setStatus("Could not delete " + docId + ": " + e.message, true); });
  }

  // Each file is its own request, so each has its own progress and outcome.
  function upload(file) {
    var progress = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
    var outcome = el("span", { className: "outcome", text: "uploading…" });
    var item = el("li", { "data-file": file.name }, [el("span", { className: "name", text: file.name }), progress, outcome]);
    $("uploads").appendChild(item);
    var form = new FormData();
    form.append("files", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/documents");
    xhr.setRequestHeader("authorization", "Bearer " + credential);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    };
    xhr.onload = function () {
      progress.value = 100;
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      var result = xhr.status === 200 && body.results && body.results[0];
      if (result) {
        var text = result.outcome;
        if (result.outcome === "failed") text += ": " + (result.reason || "") + (result.detail ? " (" + result.detail + ")" : "");
        else text += " · " + result.doc_id + " v" + result.version + " · " + result.chunks + " chunks" +
          (result.flagged_chunks ? ", " + result.flagged_chunks + " flagged" : "");
        finish(item, outcome, result.outcome, text);
        refresh();
      } else {
        finish(item, outcome, "failed", "failed: " + problem(body, xhr.status));
      }
    };
    xhr.onerror = function () { finish(item, outcome, "failed", "failed: the connection was lost"); };
    xhr.send(form);
  }

  function finish(item, outcome, kind, text) {
    item.setAttribute("data-outcome", kind);
    outcome.className = "outcome outcome-" + kind;
    outcome.textContent = text;
  }

  function uploadAll(files) {
    Array.prototype.forEach.call(files, upload);
  }

  function ask(question) {
    var box = $("answer");
    box.textContent = "Asking…";
    fetch("/v1/answers", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: question }) })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(problem(body, r.status));
          return body;
        });
      })
      .then(function (a) {
        box.textContent = "";
        box.appendChild(el("p", { className: "answer-text", text: a.answer }));
        box.appendChild(el("p", { className: "confidence", text: "Confidence " + a.confidence.toFixed(3) +
          (a.grounded ? " · grounded in the documents" : " · not grounded: travellers are told we don't know") }));
        var cited = a.citations && a.citations.length ? a.citations : a.closest || [];
        if (cited.length) {
          box.appendChild(el("h3", { text: a.citations && a.citations.length ? "Citations" : "Closest documents" }));
          var list = el("ol");
          cited.forEach(function (c) {
            list.appendChild(el("li", { className: "citation" }, [
              el("p", { text: c.title + " (" + c.document + ", version " + c.version + ")" }),
              el("p", { className: "section", text: "Section: " + c.section }),
              el("blockquote", { text: c.quote })
            ]));
          });
          box.appendChild(list);
        }
      })
      .catch(function (e) { box.textContent = "Could not answer: " + e.message; });
  }

  function start() {
    $("cred-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var value = $("cred").value.trim();
      if (value) signIn(value);
    });
    $("sign-out").addEventListener("click", signOut);
    $("refresh").addEventListener("click", refresh);
    $("confirm-cancel").addEventListener("click", function () { $("confirm").close(); });
    $("confirm-delete").addEventListener("click", deleteConfirmed);
    var drop = $("drop"), picker = $("files");
    drop.addEventListener("click", function () { picker.click(); });
    drop.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); }
    });
    ["dragenter", "dragover"].forEach(function (type) {
      drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      drop.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
    });
    picker.addEventListener("change", function () {
      uploadAll(picker.files);
      picker.value = "";
    });
    $("ask-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var q = $("question").value.trim();
      if (q.length >= 3) ask(q);
    });
    fetch("/web/config.json").then(function (r) { return r.ok ? r.json() : {}; }).then(function (config) {
      if (config.development_content_key) {
        var dev = $("dev-key");
        dev.hidden = false;
        dev.addEventListener("click", function () { signIn(config.development_content_key); });
      }
      document.body.setAttribute("data-ready", "true");
    }).catch(function () { document.body.setAttribute("data-ready", "true"); });
    if (credential) signIn(credential);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
