// Applications registered for the client credentials grant: `portrait app add`
// registers one and shows its secret once; the token endpoint finds it and checks its
// secret (auth/client-secret-verifier.ts). `app remove` and `app rotate-secret` need no
// cache told: the token endpoint reads the application from the store on every request,
// and a remembered secret is keyed by the stored hash it was checked against
// (auth/remembered-secrets.ts), so a removed application or a replaced hash is refused
// by every process at once, whichever process made the change.
import { newId } from '../directory/ids.js';
import type { Application, Store } from '../storage/store.js';
import { hashClientSecret, newClientSecret } from './client-secrets.js';

export type ApplicationStore = Pick<
  Store,
  'ensureTenant' | 'hasTenant' | 'saveApplication' | 'getApplication' | 'listApplications' | 'deleteApplication'
>;

export class Applications {
  readonly #store: ApplicationStore;

  constructor(store: ApplicationStore) {
    this.#store = store;
  }

  /** Registers a new application with a new client id; the secret is returned here and never again. */
  async register(
    tenantId: string,
    displayName: string,
    roles: readonly string[],
    redirectUris: readonly string[] = [],
  ): Promise<{ application: Application; secret: string }> {
    await this.#store.ensureTenant(tenantId);
    const secret = newClientSecret();
    const application: Application = {
      tenantId,
      clientId: newId(),
      displayName,
      roles: [...roles],
      secretHash: await hashClientSecret(secret),
      redirectUris: [...redirectUris],
      createdAt: new Date().toISOString(),
    };
    await this.#store.saveApplication(application);
    return { application, secret };
  }

  tenantExists(tenantId: string): Promise<boolean> {
    return this.#store.hasTenant(tenantId);
  }

  /** The tenant's applications, or every tenant's; never their secrets, which are not kept. */
  list(tenantId: string | undefined): Promise<Application[]> {
    return this.#store.listApplications(tenantId);
  }

  /** Its client id and secret get no more tokens; tokens issued already last until they expire, as Entra's do. */
  remove(application: Application): Promise<boolean> {
    return this.#store.deleteApplication(application.tenantId, application.clientId);
  }

  /** Gives the application a new secret, returned here and never again; the old one stops working. */
  async rotateSecret(application: Application): Promise<{ application: Application; secret: string }> {
    const secret = newClientSecret();
    const rotated: Application = { ...application, secretHash: await hashClientSecret(secret) };
    await this.#store.saveApplication(rotated);
    return { application: rotated, secret };
  }

  /** The application with this client id in the tenant; its secret is still to be checked. */
  find(tenantId: string, clientId: string): Promise<Application | undefined> {
    return this.#store.getApplication(tenantId, clientId);
  }
}
