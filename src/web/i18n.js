// The page's language: the one the person chose (kept in localStorage), else the first of
// the browser's languages the app speaks, else English. Elements name their string by
// data-i18n (text), data-i18n-label (aria-label) or data-i18n-alt; render() fills them all.
import en from './strings-en.js';
import de from './strings-de.js';

const TABLES = { en, de };
const KEY = 'portrait.language';
let current = choose();

function choose() {
  const kept = localStorage.getItem(KEY);
  if (kept === 'en' || kept === 'de') return kept;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (base === 'en' || base === 'de') return base;
  }
  return 'en';
}

export function language() {
  return current;
}

export function setLanguage(next) {
  current = next;
  localStorage.setItem(KEY, next);
  render(document);
}

/** The string `key` in the current language, {name}s filled from `values`. */
export function t(key, values = {}) {
  const text = TABLES[current][key] ?? TABLES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** Fills every element under `root` that names a string; elements with data-i18n-values fill their {names} from it (JSON). */
export function render(root) {
  document.documentElement.lang = current;
  document.title = t('title');
  for (const element of root.querySelectorAll('[data-i18n], [data-i18n-label], [data-i18n-alt]')) {
    const values = element.dataset.i18nValues ? JSON.parse(element.dataset.i18nValues) : {};
    if (element.dataset.i18n) element.textContent = t(element.dataset.i18n, values);
    if (element.dataset.i18nLabel) element.setAttribute('aria-label', t(element.dataset.i18nLabel, values));
    if (element.dataset.i18nAlt) element.setAttribute('alt', t(element.dataset.i18nAlt, values));
  }
  const other = current === 'en' ? 'de' : 'en';
  const toggle = document.getElementById('language');
  // The switch names the other language in that language, as language switches do.
  toggle.textContent = other === 'de' ? 'Deutsch' : 'English';
  toggle.lang = other;
  toggle.dataset.next = other;
}

/** Marks `element` as showing string `key` (with values) and fills it now. */
export function label(element, key, values) {
  element.dataset.i18n = key;
  if (values) element.dataset.i18nValues = JSON.stringify(values);
  element.textContent = t(key, values);
  return element;
}
