// Kiosk enrolment: create the shopper, then send several photos to the kiosk API.
import { api, shopperPicker } from './live.js';
import { FACE_ERRORS, snapshot, startCamera } from './camera.js';

const video = document.getElementById('k-video');
const snap = document.getElementById('k-snap');
const thumbs = document.getElementById('k-thumbs');
const count = document.getElementById('k-count');
const msg = document.getElementById('kiosk-msg');
let photos = [];

function say(text, bad) { msg.textContent = text; msg.className = bad ? 'error' : 'ok'; }
function showCount() {
  count.textContent = photos.length ? `${photos.length} photo(s) ready.` : 'No photos yet.';
}
function addPhoto(blob) {
  photos.push(blob);
  const img = document.createElement('img');
  img.src = URL.createObjectURL(blob);
  img.alt = `Photo ${photos.length}`;
  thumbs.append(img);
  showCount();
}

document.getElementById('k-start').addEventListener('click', async () => {
  try { await startCamera(video); snap.disabled = false; snap.focus(); } catch (e) { say(e.message, true); }
});
snap.addEventListener('click', async () => addPhoto(await snapshot(video)));
document.getElementById('k-clear').addEventListener('click', () => {
  photos = []; thumbs.replaceChildren(); showCount();
});
document.getElementById('k-files').addEventListener('change', (ev) => {
  for (const file of ev.target.files) addPhoto(file);
});

document.getElementById('kiosk-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  if (!form.reportValidity()) return;
  const consent = form.face_consent.checked;
  if (consent && photos.length === 0) { say('Take at least one photo first.', true); return; }
  try {
    const shopper = await api('/api/shoppers/', { method: 'POST', body: {
      username: form.username.value, display_name: form.display_name.value,
      email: form.email.value, face_consent: consent,
    } });
    let added = 0;
    if (consent) {
      const data = new FormData();
      photos.forEach((p, i) => data.append('images', p, `kiosk-${i + 1}.jpg`));
      const result = await api(`/api/shoppers/${shopper.id}/faces/`, { method: 'POST', form: data });
      added = result.added;
      const problems = (result.errors || []).map((e) => FACE_ERRORS[e.code] || e.code || e).join(' ');
      say(`Enrolled with ${result.added} face template(s).${problems ? ' Some photos were refused: ' + problems : ''}`,
        result.added === 0);
    } else {
      say(`${shopper.display_name || 'Shopper'} enrolled (QR code entry only).`);
    }
    if (!consent || added > 0) {
      form.reset(); photos = []; thumbs.replaceChildren(); showCount();
      showInvite(shopper).catch((e) => {
        msg.append(` No sign-in card could be made: ${e.message}.`);
      });
    }
  } catch (e) {
    say(e.status === 404 ? 'Enrolment is not available on this server.' : `Not enrolled: ${e.message}`, true);
  }
});

// The kiosk-enrolled shopper has no password yet: a sign-in card with a set-password link
// (as a QR code to scan or print; mailed too when they gave an address).
const inviteBox = document.getElementById('invite-box');
async function showInvite(shopper) {
  const invite = await api(`/api/shoppers/${shopper.id}/invite/`, { method: 'POST', body: {} });
  document.getElementById('invite-name').textContent = shopper.display_name;
  document.getElementById('invite-username').textContent = invite.username;
  document.getElementById('invite-qr').innerHTML = invite.svg; // SVG made by the server from the link
  const link = document.getElementById('invite-link');
  link.href = invite.url;
  link.textContent = invite.url;
  document.getElementById('invite-expiry').textContent =
    `Works once, until ${new Date(invite.expires_at).toLocaleString()}.` +
    (invite.emailed ? ' The link was also emailed to the shopper.' : '');
  inviteBox.hidden = false;
  inviteBox.focus();
}
document.getElementById('invite-done').addEventListener('click', () => {
  inviteBox.hidden = true;
  document.getElementById('k-username').focus();
});

// A new card for someone enrolled earlier (card lost, link expired).
const reissueInput = document.getElementById('reissue-who');
const reissueMsg = document.getElementById('reissue-msg');
const pickShopper = shopperPicker(reissueInput, document.getElementById('reissue-options'));
document.getElementById('reissue-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const who = pickShopper();
  if (!who) { reissueMsg.textContent = 'Choose a shopper from the list (type part of the name).'; reissueMsg.className = 'error'; return; }
  try {
    await showInvite(who);
    reissueMsg.textContent = '';
    reissueInput.value = '';
  } catch (e) {
    reissueMsg.textContent = `No sign-in card: ${e.message}`;
    reissueMsg.className = 'error';
  }
});
