// Consent and selfie enrolment through the phone's camera.
import { api } from './live.js';
import { FACE_ERRORS, snapshot, startCamera } from './camera.js';

const consent = document.getElementById('consent');
const consentMsg = document.getElementById('consent-msg');
const selfieMsg = document.getElementById('selfie-msg');
const video = document.getElementById('video');
const take = document.getElementById('take');
const faceCount = document.getElementById('face-count');

function say(node, text, bad) { node.textContent = text; node.className = bad ? 'error' : 'ok'; }
function unavailable(e) { return e.status === 404 ? 'Not available on this server yet.' : e.message; }

consent.addEventListener('change', async () => {
  try {
    await api('/api/me/consent/', { method: 'POST', body: { face: consent.checked } });
    say(consentMsg, consent.checked ? 'Consent recorded. Now take a selfie.' : 'Consent withdrawn; your face data is deleted.');
    if (!consent.checked) faceCount.textContent = '0';
  } catch (e) {
    consent.checked = !consent.checked;
    say(consentMsg, `Not saved: ${unavailable(e)}`, true);
  }
});

async function upload(blob) {
  if (!consent.checked) { say(selfieMsg, FACE_ERRORS.consent_required, true); consent.focus(); return; }
  const data = new FormData();
  data.append('image', blob, 'selfie.jpg');
  say(selfieMsg, 'Checking the photo…');
  try {
    const result = await api('/api/me/face/', { method: 'POST', form: data });
    faceCount.textContent = result.embeddings;
    say(selfieMsg, 'Done: the gate will recognise you.');
  } catch (e) {
    say(selfieMsg, FACE_ERRORS[e.code] || `Not saved: ${unavailable(e)}`, true);
  }
}

document.getElementById('start').addEventListener('click', async () => {
  try { await startCamera(video, 'user'); take.disabled = false; take.focus(); } catch (e) { say(selfieMsg, e.message, true); }
});
take.addEventListener('click', async () => upload(await snapshot(video)));
document.getElementById('file').addEventListener('change', (ev) => {
  if (ev.target.files[0]) upload(ev.target.files[0]);
});
document.getElementById('delete').addEventListener('click', async () => {
  if (!confirm('Delete your face data? You can still enter with your QR code.')) return;
  try {
    await api('/api/me/face/', { method: 'DELETE' });
    faceCount.textContent = '0';
    say(selfieMsg, 'Your face data is deleted.');
  } catch (e) { say(selfieMsg, `Not deleted: ${unavailable(e)}`, true); }
});
