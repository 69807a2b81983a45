// The intake zone's upload page: sends the chosen tar archive as the request body, with the provider's
// credential in the Authorization header (never in a cookie or the address), and shows the answer.
"use strict";
(function () {
  const form = document.getElementById("upload");
  if (!form) {
    return;
  }
  const result = document.getElementById("upload-result");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const file = form.elements.extract.files[0];
    const format = form.elements.format.value;
    const credential = form.elements.credential.value.trim();
    result.className = "";
    result.textContent = form.dataset.sending;
    try {
      const response = await fetch("/intake/v1/extracts?format=" + encodeURIComponent(format), {
        method: "POST",
        headers: { "Authorization": "Bearer " + credential, "Content-Type": "application/x-tar" },
        body: file,
      });
      const answer = await response.json();
      if (response.ok) {
        result.className = "ok";
        result.dataset.batch = answer.batch;
        result.textContent = form.dataset.done
          .replace("{batch}", answer.batch)
          .replace("{persons}", answer.n_persons)
          .replace("{quarantined}", answer.n_quarantined)
          + (answer.already_received ? " " + form.dataset.again : "");
      } else {
        result.className = "error";
        result.dataset.code = answer.code;
        result.textContent = answer.message;
      }
    } catch (error) {
      result.className = "error";
      result.textContent = String(error);
    }
  });
})();
