// Once a passkey is registered, go on to the page the element #passkey-next names: the
// recovery codes after a first enrolment, or the list of one's passkeys.
document.addEventListener("otp_webauthn.register_complete", () => {
  const next = document.getElementById("passkey-next");
  window.location.assign(next ? next.dataset.next : window.location.href);
});
