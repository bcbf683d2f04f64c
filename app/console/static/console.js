// The console's own script (no inline script anywhere: the Content-Security-Policy forbids it).
// 1. Forms with data-confirm="…" ask before they are sent (erasure, revocation…).
// 2. Uploads sent by htmx (hx-encoding="multipart/form-data") move the form's
//    <progress class="envoi"> as the file is sent; the server's progress takes over after.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

document.addEventListener("htmx:confirm", function (event) {
  var form = event.detail.elt;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question) {
    event.preventDefault();
    if (window.confirm(question)) { event.detail.issueRequest(true); }
  }
});

document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target;
  var bar = form.querySelector && form.querySelector("progress.envoi");
  if (!bar || !event.detail.lengthComputable) { return; }
  var share = event.detail.loaded / event.detail.total;
  bar.value = Math.round(share * 1000) / 10;
  var text = form.querySelector(".envoi-texte");
  if (text) { text.textContent = "Envoi du fichier : " + Math.round(share * 100) + " %"; }
});
