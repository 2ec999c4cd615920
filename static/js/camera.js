// Camera capture for enrolment pages: getUserMedia preview and JPEG snapshots.
export async function startCamera(video, facingMode = 'user') {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('This browser cannot open the camera here (it needs HTTPS or localhost).');
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode, width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false,
  });
  video.srcObject = stream;
  await video.play();
  return stream;
}

export function snapshot(video, quality = 0.92) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
}

export const FACE_ERRORS = {
  no_face: 'No face found: look straight at the camera.',
  many_faces: 'More than one face: only one person in the picture, please.',
  face_too_small: 'The face is too small: come closer.',
  face_blurry: 'The photo is blurry: hold still.',
  consent_required: 'Face recognition needs consent first.',
  frame_corrupt: 'The image could not be read.',
  face_matches_other: 'This face is already enrolled for another account.',
  face_other_person: 'This is a different person from the face on this account: one account, one face.',
};
