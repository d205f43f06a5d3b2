/* Archivists' workspace: per-file upload progress, live job progress, confirmations.
 * Plain JS (no framework): XHR is used for uploads because fetch() has no upload progress events. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });

  // ---- upload: one XHR per file, with its own progress bar --------------------------------
  var form = document.getElementById("upload-form");
  if (form) {
    var i18n = JSON.parse(document.getElementById("upload-i18n").textContent);
    var stem = function (name) { return name.replace(/\.[^.]*$/, "").toLowerCase(); };
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var files = Array.prototype.slice.call(form.querySelector("#files").files);
      var transcripts = Array.prototype.slice.call(form.querySelector("#transcripts").files);
      var list = document.getElementById("upload-list");
      var tpl = document.getElementById("upload-row");
      if (!files.length) { form.querySelector("#files").focus(); return; }
      var pending = files.length;
      var queue = files.map(function (file) {
        var row = tpl.content.firstElementChild.cloneNode(true);
        row.querySelector(".name").textContent = file.name;
        row.querySelector(".msg").textContent = i18n.uploading;
        list.appendChild(row);
        return {file: file, row: row};
      });
      var next = function () {
        var job = queue.shift();
        if (!job) { return; }
        var data = new FormData();
        Array.prototype.forEach.call(form.elements, function (el) {
          if (!el.name || el.type === "file" || el.disabled) { return; }
          if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
          if (el.name === "title" && files.length > 1) { return; }  // a title names one file's item
          if (el.tagName === "SELECT" && el.multiple) {
            Array.prototype.forEach.call(el.selectedOptions, function (o) { data.append(el.name, o.value); });
          } else { data.append(el.name, el.value); }
        });
        data.append("file", job.file, job.file.name);
        var t = transcripts.filter(function (x) { return stem(x.name) === stem(job.file.name); })[0];
        if (t) { data.append("transcript", t, t.name); }
        var xhr = new XMLHttpRequest();
        var bar = job.row.querySelector("progress"), msg = job.row.querySelector(".msg");
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
        });
        xhr.addEventListener("loadend", function () {
          var body = {};
          try { body = JSON.parse(xhr.responseText); } catch (e) { body = {error: xhr.statusText || "error"}; }
          if (xhr.status === 201) {
            bar.value = 100;
            job.row.classList.add("ok");
            msg.textContent = i18n.sent + " ";
            var a = document.createElement("a");
            a.href = body.url; a.textContent = i18n.open + " #" + body.item;
            msg.appendChild(a);
          } else {
            job.row.classList.add("failed");
            msg.textContent = i18n.failed + ": " + (body.error || xhr.status);
            msg.setAttribute("role", "alert");
          }
          pending -= 1;
          if (pending === 0) { document.getElementById("upload-done").hidden = false; }
          next();
        });
        xhr.open("POST", form.action);
        xhr.setRequestHeader("X-CSRFToken", csrf);
        xhr.setRequestHeader("Accept", "application/json");
        xhr.send(data);
      };
      next(); next();  // two uploads at a time
    });
  }

  // ---- jobs: poll /admin/jobs.json and update the rows --------------------------------------
  var table = document.getElementById("jobs-table");
  if (table) {
    var live = document.getElementById("jobs-live");
    var poll = function () {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", table.getAttribute("data-source"));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("load", function () {
        if (xhr.status !== 200) { return; }
        var data = JSON.parse(xhr.responseText), changed = false;
        data.jobs.forEach(function (j) {
          var row = table.querySelector('tr[data-job="' + j.id + '"]');
          if (!row) { changed = true; return; }
          if (row.getAttribute("data-state") !== j.state) { changed = true; }
          var bar = row.querySelector("progress");
          bar.max = j.total || 1; bar.value = j.done || 0;
          row.querySelector(".step").textContent = j.step || "";
          var st = row.querySelector(".state span");
          st.textContent = j.state; st.className = "state state-" + j.state;
        });
        if (changed) { window.location.reload(); return; }
        live.textContent = data.active ? data.active + " …" : "";
        if (data.active) { window.setTimeout(poll, 1500); }
      });
      xhr.send();
    };
    window.setTimeout(poll, 1000);
  }
})();
