// People and groups, for administrators: search by name or user principal name (Graph's
// $search with ConsistencyLevel: eventual), page by @odata.nextLink, see who has no photo
// (a 404 for the photo), and set or remove anyone's photo. The API decides who may; this
// page is only shown to a token with an administrator role.
import { deletePhoto, graph, GraphFailure, photoUrl } from './graph.js';
import { label, render } from './i18n.js';

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 10;

let actions;
/** The URLs of the pages seen so far (the first is the query's), for Previous. */
let pages = [];
let at = 0;
let next;
let kind = 'users';

/** A $search clause's text: its quotes and backslashes would end it. */
function searchable(text) {
  return text.replace(/["\\]/g, ' ').trim();
}

function firstPage() {
  kind = $('kind-groups').checked ? 'groups' : 'users';
  const text = searchable($('search').value);
  const select = kind === 'users' ? 'id,displayName,userPrincipalName' : 'id,displayName,mailNickname';
  const query = new URLSearchParams({ $top: String(PAGE_SIZE), $select: select });
  if (text === '') {
    query.set('$orderby', 'displayName');
  } else {
    const second = kind === 'users' ? 'userPrincipalName' : 'mailNickname';
    query.set('$search', `"displayName:${text}" OR "${second}:${text}"`);
  }
  return `/${kind}?${query}`;
}

async function load(path) {
  label($('page-number'), 'loading');
  const response = await graph(path, { headers: { ConsistencyLevel: 'eventual' } });
  const answer = await response.json();
  next = answer['@odata.nextLink'];
  const rows = [];
  for (const item of answer.value) rows.push(await row(item));
  const withoutOnly = $('without-photo').checked;
  const body = $('results').tBodies[0];
  body.replaceChildren(...rows.filter((r) => !withoutOnly || r.dataset.photo === 'none'));
  render(body);
  $('no-results').hidden = body.rows.length > 0;
  label($('page-number'), 'pageNumber', { number: at + 1 });
  $('previous-page').disabled = at === 0;
  $('next-page').disabled = next === undefined;
}

/** A Graph nextLink, made relative to /v1.0 (it is this server's own). */
function relative(link) {
  const url = new URL(link, location.origin);
  return url.pathname.replace(/^\/v1\.0/, '') + url.search;
}

async function row(item) {
  const owner = `/${kind}/${item.id}`;
  const name = item.displayName ?? item.userPrincipalName ?? item.id;
  const tr = document.createElement('tr');
  const photoCell = document.createElement('td');
  const url = await photoUrl(owner, 48);
  tr.dataset.photo = url === undefined ? 'none' : 'some';
  tr.dataset.id = item.id;
  if (url === undefined) {
    photoCell.append(label(document.createElement('span'), 'none'));
  } else {
    const image = document.createElement('img');
    image.src = url;
    image.width = image.height = 48;
    image.dataset.i18nAlt = 'photoOf';
    image.dataset.i18nValues = JSON.stringify({ name });
    photoCell.append(image);
  }
  const nameCell = document.createElement('td');
  nameCell.textContent = item.displayName ?? '';
  const principalCell = document.createElement('td');
  principalCell.textContent = item.userPrincipalName ?? item.mailNickname ?? '';
  const actionsCell = document.createElement('td');
  const file = document.createElement('input');
  file.type = 'file';
  file.accept = 'image/*,.heic,.heif';
  file.dataset.i18nLabel = 'choosePhotoFor';
  file.dataset.i18nValues = JSON.stringify({ name });
  file.addEventListener('change', () => {
    if (file.files[0]) void actions.openEditor(owner, name, file.files[0]);
  });
  actionsCell.append(file);
  if (url !== undefined) {
    const remove = label(document.createElement('button'), 'remove');
    remove.type = 'button';
    remove.dataset.i18nLabel = 'removePhotoOf';
    remove.dataset.i18nValues = JSON.stringify({ name });
    remove.addEventListener('click', async () => {
      if (!(await actions.confirm('confirmDeleteOf', { name }))) return;
      actions.problem(undefined);
      try {
        await deletePhoto(owner);
        actions.say('deleted');
        await load(pages[at]);
        $('search').focus();
      } catch (error) {
        actions.problem(error);
      }
    });
    actionsCell.append(remove);
  }
  tr.append(photoCell, nameCell, principalCell, actionsCell);
  return tr;
}

async function guarded(run) {
  actions.problem(undefined);
  try {
    await run();
  } catch (error) {
    actions.problem(error instanceof GraphFailure ? error : new GraphFailure(0, undefined, 'errNetwork'));
  }
}

let wired = false;

export async function showPeople(given) {
  actions = given;
  if (!wired) {
    wired = true;
    $('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      pages = [firstPage()];
      at = 0;
      void guarded(() => load(pages[0]));
    });
    $('next-page').addEventListener('click', () => {
      if (next === undefined) return;
      pages = [...pages.slice(0, at + 1), relative(next)];
      at += 1;
      void guarded(() => load(pages[at]));
    });
    $('previous-page').addEventListener('click', () => {
      if (at === 0) return;
      at -= 1;
      void guarded(() => load(pages[at]));
    });
  }
  pages = [firstPage()];
  at = 0;
  await guarded(() => load(pages[0]));
}

/** After a photo was saved from the editor: the page as it is now. */
export async function reloadPeople() {
  if (pages.length > 0) await guarded(() => load(pages[at]));
}
