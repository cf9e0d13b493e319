// The web app: My photo, and People and groups for administrators. Routing by the hash
// (#/ and #/people); every change goes through the Graph API (graph.js).
import { accessToken, claims, completeSignIn, forget, isBuiltIn, loadConfig, signIn, signOut } from './auth.js';
import { Crop } from './crop.js';
import { deletePhoto, GraphFailure, photoUrl, putPhoto } from './graph.js';
import { label, language, render, setLanguage, t } from './i18n.js';
import { showPeople } from './people.js';

const $ = (id) => document.getElementById(id);
/** The Graph sizes shown of one's own photo. */
const SHOWN_SIZES = [48, 96, 240];
const HEIC = /\.(heic|heif)$/i;

const crop = new Crop($('crop'), [$('preview-48'), $('preview-96')]);
/** What the editor saves: the owner's path, and the file when it is uploaded as it is (HEIC). */
let editing;

/** A message in the live region; none clears it. */
export function say(key, values) {
  if (key === undefined) {
    $('status').textContent = '';
    delete $('status').dataset.i18n;
  } else {
    label($('status'), key, values);
  }
}

export function problem(error) {
  if (error instanceof GraphFailure) {
    if (error.status === 401) forget();
    label($('problem'), error.key, error.values);
  } else if (error === undefined) {
    $('problem').textContent = '';
    delete $('problem').dataset.i18n;
  } else {
    label($('problem'), 'errGeneric', { status: 0 });
  }
}

// ---------------------------------------------------------------------------
// Views

function showView(id) {
  for (const view of ['view-signed-out', 'view-me', 'view-people']) $(view).hidden = view !== id;
  $('nav-me').toggleAttribute('aria-current', id === 'view-me');
  if (id === 'view-me') $('nav-me').setAttribute('aria-current', 'page');
  $('nav-people').toggleAttribute('aria-current', id === 'view-people');
  if (id === 'view-people') $('nav-people').setAttribute('aria-current', 'page');
}

async function route() {
  closeEditor();
  if ((await accessToken()) === undefined) {
    $('nav').hidden = true;
    $('sign-out').hidden = true;
    $('who').textContent = '';
    $('dev-note').hidden = !isBuiltIn();
    showView('view-signed-out');
    return;
  }
  const me = claims();
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  label($('who'), 'signedInAs', { name: me.userPrincipalName ?? me.name ?? '' });
  $('nav-people').hidden = !me.admin;
  if (location.hash === '#/people' && me.admin) {
    showView('view-people');
    await showPeople({ openEditor, confirm, say, problem });
  } else {
    showView('view-me');
    await showMine();
  }
}

async function showMine() {
  const current = $('current');
  current.replaceChildren();
  const figures = [];
  for (const size of SHOWN_SIZES) {
    const url = await photoUrl('/me', size);
    if (url === undefined) continue;
    const figure = document.createElement('figure');
    const image = document.createElement('img');
    image.src = url;
    image.width = image.height = size;
    image.dataset.i18nAlt = 'photoAlt';
    image.dataset.i18nValues = JSON.stringify({ size });
    const caption = label(document.createElement('figcaption'), 'sizeCaption', { size });
    figure.append(image, caption);
    figures.push(figure);
  }
  current.append(...figures);
  render(current);
  $('no-photo').hidden = figures.length > 0;
  $('delete-mine').hidden = figures.length === 0;
}

// ---------------------------------------------------------------------------
// The editor

/** Opens the editor for `owner` ('/me', '/users/{id}', '/groups/{id}') with a file. */
async function openEditor(owner, name, file) {
  problem(undefined);
  const heic = HEIC.test(file.name ?? '') || /hei[cf]/.test(file.type);
  let image;
  if (!heic) {
    try {
      image = await createImageBitmap(file);
    } catch {
      // Not decodable here: sent as it is, and the server says what is wrong with it.
      image = undefined;
    }
  }
  editing = { owner, name, file: image === undefined ? file : undefined };
  const heading = $('editor-heading');
  if (owner === '/me') label(heading, 'editorHeading');
  else label(heading, 'editorHeadingFor', { name });
  $('heic-note').hidden = image !== undefined;
  $('crop-tools').hidden = image === undefined;
  $('crop-help').hidden = image === undefined;
  $('zoom').value = '1';
  if (image !== undefined) crop.load(image);
  $('editor').hidden = false;
  heading.focus();
}

function closeEditor() {
  $('editor').hidden = true;
  editing = undefined;
  $('file').value = '';
}

async function save() {
  if (editing === undefined) return;
  const { owner, file } = editing;
  say('saving');
  problem(undefined);
  try {
    await putPhoto(owner, file ?? (await crop.export()));
    closeEditor();
    say('saved');
    await route();
  } catch (error) {
    say(undefined);
    problem(error);
  }
}

$('crop').addEventListener('keydown', (event) => {
  if (!crop.key(event)) return;
  event.preventDefault();
  $('zoom').value = String(crop.zoom);
});
$('zoom').addEventListener('input', () => crop.setZoom(Number($('zoom').value)));
$('rotate').addEventListener('click', () => crop.rotate());
$('save').addEventListener('click', save);
$('cancel-edit').addEventListener('click', () => {
  closeEditor();
  $('file').focus();
});
let dragging;
$('crop').addEventListener('pointerdown', (event) => {
  dragging = { x: event.clientX, y: event.clientY };
  $('crop').setPointerCapture(event.pointerId);
});
$('crop').addEventListener('pointermove', (event) => {
  if (dragging === undefined) return;
  crop.drag(event.clientX - dragging.x, event.clientY - dragging.y);
  dragging = { x: event.clientX, y: event.clientY };
});
$('crop').addEventListener('pointerup', () => void (dragging = undefined));

// A file chosen, dropped or pasted on My photo.
function chosen(file) {
  if (file === undefined) return;
  if (!/^image\//.test(file.type) && !HEIC.test(file.name ?? '') && file.type !== '') {
    label($('problem'), 'errNotAnImage');
    return;
  }
  void openEditor('/me', '', file);
}
$('file').addEventListener('change', () => chosen($('file').files[0]));
$('drop').addEventListener('dragover', (event) => {
  event.preventDefault();
  $('drop').classList.add('over');
});
$('drop').addEventListener('dragleave', () => $('drop').classList.remove('over'));
$('drop').addEventListener('drop', (event) => {
  event.preventDefault();
  $('drop').classList.remove('over');
  chosen(event.dataTransfer?.files[0]);
});
document.addEventListener('paste', (event) => {
  if ($('view-me').hidden) return;
  const file = [...(event.clipboardData?.files ?? [])][0];
  if (file !== undefined) chosen(file);
});

// ---------------------------------------------------------------------------
// Confirmation

/** Asks in the dialog; resolves to true when confirmed. Focus returns where it was. */
function confirm(key, values) {
  const dialog = $('confirm');
  const before = document.activeElement;
  label($('confirm-text'), key, values);
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      $('confirm-yes').onclick = $('confirm-no').onclick = dialog.oncancel = null;
      before?.focus?.();
      resolve(answer);
    };
    $('confirm-yes').onclick = () => done(true);
    $('confirm-no').onclick = () => done(false);
    dialog.oncancel = (event) => {
      event.preventDefault();
      done(false);
    };
    dialog.showModal();
    // The safe answer first.
    $('confirm-no').focus();
  });
}

$('delete-mine').addEventListener('click', async () => {
  if (!(await confirm('confirmDeleteMine'))) return;
  problem(undefined);
  try {
    await deletePhoto('/me');
    say('deleted');
    await showMine();
    $('file').focus();
  } catch (error) {
    problem(error);
  }
});

// ---------------------------------------------------------------------------
// Start

$('language').addEventListener('click', () => setLanguage($('language').dataset.next));
$('sign-in').addEventListener('click', () => void signIn(language()));
$('sign-out').addEventListener('click', async () => {
  await signOut();
  await route();
  $('sign-in').focus();
});
window.addEventListener('hashchange', () => void route().then(() => $('main').focus()));

async function start() {
  render(document);
  try {
    await loadConfig();
    const back = await completeSignIn();
    if (back !== undefined) {
      await route();
      // After signing in, focus goes to the page's heading, where reading starts.
      $('main').focus();
      return;
    }
  } catch (error) {
    label($('problem'), 'signInFailed', { reason: error instanceof Error ? error.message : String(error) });
  }
  await route();
}

void start();
