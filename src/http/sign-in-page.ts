// The pages of the built-in issuer's sign-in (sign-in-routes.ts), in English and German:
// the form where a person picks or types who signs in, and the pages that say why a
// sign-in cannot go on. Plain HTML forms, no script; one stylesheet, allowed by its hash in
// the Content-Security-Policy, so that nothing inline could ever run.
import { createHash } from 'node:crypto';

export type Locale = 'en' | 'de';

const STRINGS = {
  en: {
    title: 'Sign in',
    heading: (app: string) => `Sign in to ${app}`,
    grants: (app: string) => `${app} gets a token for the person you choose, with these permissions:`,
    returns: (where: string) => `Then your browser goes back to ${where}.`,
    loopback:
      'This is Portrait’s built-in sign-in, made for development. It asks for no password because Portrait listens on this computer only: anyone who can open this page can sign in as anyone.',
    flag: 'This is Portrait’s built-in sign-in, made for development. It asks for no password because Portrait was started with --dev-sign-in: anyone who can open this page can sign in as anyone. Never use it where others can reach the server.',
    label: 'User principal name',
    hint: 'A name like alice@contoso.com. A name nobody has yet creates that user.',
    submit: 'Sign in',
    pick: 'Or choose someone',
    cancel: 'Cancel',
    otherLanguage: 'Deutsch',
    failed: 'Sign-in failed',
    tenantUnknown: (tenant: string) => `No tenant ${tenant} is known to this Portrait.`,
    clientUnknown: (client: string) =>
      `No application with client id ${client} is registered in this tenant. Register one with: portrait app add NAME --redirect-uri URI`,
    redirectUnknown: (uri: string, app: string) =>
      `The redirect URI ${uri} is not registered for ${app}. Add it, exactly as the app sends it, with: portrait app add NAME --redirect-uri URI`,
    redirectMissing: (app: string) => `The request names no redirect_uri for ${app}.`,
    signInOff:
      'Portrait’s built-in sign-in is off, because Portrait can be reached from other computers and it asks for no password. People sign in at your organisation’s identity provider (serve --issuer). For development, start Portrait with --dev-sign-in.',
    badRequest: (detail: string) => `The sign-in request is not valid: ${detail}`,
    signedOut: 'You are signed out',
    signedOutText: 'Portrait keeps no session: there is nothing else to sign out of here. You can close this page.',
  },
  de: {
    title: 'Anmelden',
    heading: (app: string) => `Bei ${app} anmelden`,
    grants: (app: string) => `${app} erhält ein Token für die Person, die Sie auswählen, mit diesen Berechtigungen:`,
    returns: (where: string) => `Danach kehrt Ihr Browser zu ${where} zurück.`,
    loopback:
      'Dies ist die integrierte Anmeldung von Portrait für die Entwicklung. Sie fragt nach keinem Kennwort, weil Portrait nur auf diesem Computer erreichbar ist: Wer diese Seite öffnen kann, kann sich als beliebige Person anmelden.',
    flag: 'Dies ist die integrierte Anmeldung von Portrait für die Entwicklung. Sie fragt nach keinem Kennwort, weil Portrait mit --dev-sign-in gestartet wurde: Wer diese Seite öffnen kann, kann sich als beliebige Person anmelden. Verwenden Sie sie nie, wo andere den Server erreichen.',
    label: 'Benutzerprinzipalname',
    hint: 'Ein Name wie alice@contoso.com. Ein Name, den noch niemand hat, legt diesen Benutzer an.',
    submit: 'Anmelden',
    pick: 'Oder wählen Sie eine Person aus',
    cancel: 'Abbrechen',
    otherLanguage: 'English',
    failed: 'Anmeldung fehlgeschlagen',
    tenantUnknown: (tenant: string) => `Der Mandant ${tenant} ist diesem Portrait nicht bekannt.`,
    clientUnknown: (client: string) =>
      `In diesem Mandanten ist keine Anwendung mit der Client-ID ${client} registriert. Registrieren Sie eine mit: portrait app add NAME --redirect-uri URI`,
    redirectUnknown: (uri: string, app: string) =>
      `Der Umleitungs-URI ${uri} ist für ${app} nicht registriert. Fügen Sie ihn genau so hinzu, wie die App ihn sendet, mit: portrait app add NAME --redirect-uri URI`,
    redirectMissing: (app: string) => `Die Anfrage nennt keinen redirect_uri für ${app}.`,
    signInOff:
      'Die integrierte Anmeldung von Portrait ist ausgeschaltet, weil Portrait von anderen Computern aus erreichbar ist und sie nach keinem Kennwort fragt. Personen melden sich beim Identitätsanbieter Ihrer Organisation an (serve --issuer). Zum Entwickeln starten Sie Portrait mit --dev-sign-in.',
    badRequest: (detail: string) => `Die Anmeldeanfrage ist ungültig: ${detail}`,
    signedOut: 'Sie sind abgemeldet',
    signedOutText: 'Portrait führt keine Sitzung: Hier gibt es nichts weiter abzumelden. Sie können diese Seite schließen.',
  },
} as const;

export type Strings = (typeof STRINGS)[Locale];

export function strings(locale: Locale): Strings {
  return STRINGS[locale];
}

/**
 * OpenID Connect's ui_locales first (a space-separated list), then the browser's
 * Accept-Language (q-values honoured), else English.
 */
export function chooseLocale(uiLocales: string | undefined, acceptLanguage: string | undefined): Locale {
  for (const tag of (uiLocales ?? '').split(' ')) {
    const locale = localeOf(tag);
    if (locale !== undefined) return locale;
  }
  const ranked = (acceptLanguage ?? '')
    .slice(0, 512)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag, q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranked) {
    const locale = localeOf(tag);
    if (locale !== undefined) return locale;
  }
  return 'en';
}

function localeOf(tag: string): Locale | undefined {
  const primary = tag.trim().toLowerCase().split('-', 1)[0];
  return primary === 'en' || primary === 'de' ? primary : undefined;
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem}.note{background:#fff4ce;border-left:4px solid #8a6d00;padding:.5rem .75rem}
label{display:block;font-weight:600;margin-top:1rem}input{font:inherit;width:100%;box-sizing:border-box;padding:.4rem}
button,a.button{font:inherit;margin:.5rem .5rem 0 0;padding:.4rem 1rem}ul.people{list-style:none;padding:0}
.people button{width:100%;text-align:left}:focus-visible{outline:3px solid #005a9e;outline-offset:2px}
nav{text-align:right}`;

const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

/**
 * The page's Content-Security-Policy: nothing but its own stylesheet; the form posts to this
 * origin, whose answer redirects to `formTarget` (browsers hold redirects after a form post to
 * form-action too); never framed, so no other page can trick a click.
 */
export function pageSecurityPolicy(formTarget?: string): string {
  const formAction = formTarget === undefined ? "'self'" : `'self' ${formTarget}`;
  return `default-src 'none'; style-src '${STYLE_HASH}'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A whole page: `body` is HTML already escaped. */
function page(locale: Locale, title: string, body: string, otherLanguageHref?: string): string {
  const s = STRINGS[locale];
  const nav =
    otherLanguageHref === undefined
      ? ''
      : `<nav><a href="${escapeHtml(otherLanguageHref)}" lang="${locale === 'en' ? 'de' : 'en'}">${s.otherLanguage}</a></nav>`;
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} – Portrait</title>
<style>${STYLE}</style>
</head>
<body>
${nav}
<main>
${body}
</main>
</body>
</html>
`;
}

export interface SignInForm {
  readonly locale: Locale;
  readonly appName: string;
  readonly permissions: readonly string[];
  readonly redirectUri: string;
  /** 'loopback' or 'flag': why signing in needs no password here, which the page says. */
  readonly mode: 'loopback' | 'flag';
  /** The request's parameters, posted back with the choice. */
  readonly hidden: ReadonlyMap<string, string>;
  /** Who may be picked: display name and userPrincipalName. */
  readonly people: readonly { readonly name: string; readonly userPrincipalName: string }[];
  readonly typed?: string | undefined;
  /** Why the last try was refused (an invalid name), said above the field. */
  readonly problem?: string | undefined;
  readonly cancelHref: string;
  readonly otherLanguageHref: string;
}

export function signInPage(form: SignInForm): string {
  const s = STRINGS[form.locale];
  const hidden = [...form.hidden].map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n');
  const people = form.people
    .map(
      (person) =>
        `<li><button type="submit" name="login" value="${escapeHtml(person.userPrincipalName)}">${escapeHtml(person.name)} (${escapeHtml(person.userPrincipalName)})</button></li>`,
    )
    .join('\n');
  const problem = form.problem === undefined ? '' : `<p role="alert" id="problem">${escapeHtml(form.problem)}</p>`;
  const describedBy = form.problem === undefined ? 'hint' : 'problem hint';
  const body = `<h1>${escapeHtml(s.heading(form.appName))}</h1>
<p class="note">${escapeHtml(form.mode === 'loopback' ? s.loopback : s.flag)}</p>
<p>${escapeHtml(s.grants(form.appName))} <strong>${escapeHtml(form.permissions.join(', '))}</strong>. ${escapeHtml(s.returns(new URL(form.redirectUri).origin))}</p>
<form method="post">
${hidden}
${problem}
<label for="username">${escapeHtml(s.label)}</label>
<input id="username" name="username" type="text" autocomplete="username" spellcheck="false" aria-describedby="${describedBy}" value="${escapeHtml(form.typed ?? '')}">
<p id="hint">${escapeHtml(s.hint)}</p>
<button type="submit">${escapeHtml(s.submit)}</button>
<a class="button" href="${escapeHtml(form.cancelHref)}">${escapeHtml(s.cancel)}</a>
${people === '' ? '' : `<h2>${escapeHtml(s.pick)}</h2>\n<ul class="people">\n${people}\n</ul>`}
</form>`;
  return page(form.locale, s.title, body, form.otherLanguageHref);
}

/** A page that says why the sign-in stops here (never a redirect to a URI not vouched for). */
export function failurePage(locale: Locale, message: string, otherLanguageHref?: string): string {
  const s = STRINGS[locale];
  return page(locale, s.failed, `<h1>${escapeHtml(s.failed)}</h1>\n<p>${escapeHtml(message)}</p>`, otherLanguageHref);
}

export function signedOutPage(locale: Locale): string {
  const s = STRINGS[locale];
  return page(locale, s.signedOut, `<h1>${escapeHtml(s.signedOut)}</h1>\n<p>${escapeHtml(s.signedOutText)}</p>`);
}
