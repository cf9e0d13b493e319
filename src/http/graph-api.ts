// The Graph API Portrait serves, described once: every path template, the methods
// each allows, the JSON bodies they take (as JSON Schema) and what they answer.
// The server reads its 405s and Allow headers and its body checks from here, and
// /v1.0/openapi.json is generated from here (http/openapi.ts): what is published
// is what runs. The grammar of paths itself is http/graph-path.ts; a test walks
// every template below through the real server.
import type { Access, PermissionTarget } from '../auth/permissions.js';
import { photoUpdateSchema } from '../photos/resize-request.js';
import type { JsonSchema } from './body-schema.js';
import type { PhotoOwnerRef, PhotoTarget, Resource } from './graph-path.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

// ---------------------------------------------------------------------------
// Schemas

const GUID = { type: 'string', format: 'uuid' } as const;
const ODATA_CONTEXT = { type: 'string', description: 'The OData context URL of the answer.' } as const;
const NAME = (max: number): JsonSchema => ({ type: 'string', minLength: 1, maxLength: max, pattern: '\\S' });
const OPTIONAL_TEXT = (max: number): JsonSchema => ({ type: ['string', 'null'], maxLength: max });
const collection = (item: string): JsonSchema => ({
  type: 'object',
  required: ['value'],
  properties: { '@odata.context': ODATA_CONTEXT, value: { type: 'array', items: { $ref: `#/components/schemas/${item}` } } },
});
/** A listing's page: the next page's URL while more follow, the count when asked. */
const page = (item: string): JsonSchema => {
  const base = collection(item) as { properties: Record<string, JsonSchema> };
  return {
    ...collection(item),
    properties: {
      ...base.properties,
      '@odata.count': { type: 'integer', description: 'Every object the $filter and $search match ($count=true).' },
      '@odata.nextLink': { type: 'string', description: 'The next page; absent on the last.' },
    },
  };
};

/** The JSON bodies Portrait reads and writes. Request schemas are what validateBody checks. */
export const SCHEMAS = {
  // microsoft.graph.profilePhoto (Graph's CSDL: id as key, height and width Int32, nullable),
  // a media entity: its metadata carries the mediaContentType and mediaEtag annotations.
  profilePhoto: {
    type: 'object',
    title: 'profilePhoto',
    required: ['id'],
    properties: {
      '@odata.context': ODATA_CONTEXT,
      '@odata.id': { type: 'string', description: 'The canonical URL of this photo (or size), as Graph writes it: …/users(\'{id}\')/photo.' },
      '@odata.mediaContentType': { type: 'string', const: 'image/jpeg' },
      '@odata.mediaEtag': { type: 'string', description: 'Strong ETag of the photo version; also the ETag header of its bytes.' },
      id: { type: 'string', readOnly: true, pattern: '^[0-9]+X[0-9]+$', examples: ['648X648'] },
      height: { type: ['integer', 'null'], format: 'int32', description: 'The height of the photo. Read-only.' },
      width: { type: ['integer', 'null'], format: 'int32', description: 'The width of the photo. Read-only.' },
    },
  },
  profilePhotoCollection: collection('profilePhoto'),
  // PATCH …/photo: re-render at width × height, each at most the kept master's side.
  profilePhotoUpdate: photoUpdateSchema(),
  user: {
    type: 'object',
    properties: {
      '@odata.context': ODATA_CONTEXT,
      id: GUID,
      displayName: { type: 'string' },
      userPrincipalName: { type: 'string' },
      mail: { type: ['string', 'null'] },
      userType: { type: 'string', enum: ['Member', 'Guest'] },
    },
  },
  userCollection: page('user'),
  userCreate: {
    type: 'object',
    title: 'user',
    required: ['userPrincipalName', 'displayName'],
    properties: { userPrincipalName: NAME(256), displayName: NAME(256), mail: OPTIONAL_TEXT(1024) },
  },
  group: {
    type: 'object',
    properties: {
      '@odata.context': ODATA_CONTEXT,
      id: GUID,
      displayName: { type: 'string' },
      mailNickname: { type: 'string' },
      description: { type: ['string', 'null'] },
      groupTypes: { type: 'array', items: { type: 'string' } },
      resourceProvisioningOptions: { type: 'array', items: { type: 'string' } },
    },
  },
  groupCollection: page('group'),
  groupCreate: {
    type: 'object',
    title: 'group',
    required: ['displayName'],
    properties: {
      displayName: NAME(256),
      mailNickname: OPTIONAL_TEXT(64),
      description: OPTIONAL_TEXT(1024),
      // A Microsoft 365 group, or a security group (none). Dynamic membership needs rules Portrait does not keep.
      groupTypes: { type: 'array', items: { type: 'string', enum: ['Unified'] }, maxItems: 1 },
    },
  },
  team: {
    type: 'object',
    properties: {
      '@odata.context': ODATA_CONTEXT,
      id: GUID,
      displayName: { type: 'string' },
      description: { type: ['string', 'null'] },
      isArchived: { type: 'boolean' },
    },
  },
  // PUT /groups/{id}/team: Graph takes team settings here; Portrait keeps none of them.
  teamCreate: { type: 'object', title: 'team' },
  // Members of a group and a user's groups: directoryObjects, each saying its type.
  directoryObjectCollection: {
    type: 'object',
    required: ['value'],
    properties: {
      '@odata.context': ODATA_CONTEXT,
      '@odata.nextLink': { type: 'string', description: 'The next page (100 by default, $top up to 999); absent on the last.' },
      value: {
        type: 'array',
        items: {
          type: 'object',
          required: ['@odata.type', 'id'],
          properties: { '@odata.type': { type: 'string', enum: ['#microsoft.graph.user', '#microsoft.graph.group'] }, id: GUID },
        },
      },
    },
  },
  referenceCollection: {
    type: 'object',
    required: ['value'],
    properties: {
      '@odata.context': ODATA_CONTEXT,
      '@odata.nextLink': { type: 'string' },
      value: { type: 'array', items: { type: 'object', required: ['@odata.id'], properties: { '@odata.id': { type: 'string' } } } },
    },
  },
  // POST /groups/{id}/members/$ref. Graph's host or this service's, …/directoryObjects/{id} or …/users/{id}.
  memberReference: {
    type: 'object',
    title: 'reference',
    required: ['@odata.id'],
    properties: {
      '@odata.id': { type: 'string', minLength: 1, maxLength: 2048, examples: ['https://graph.microsoft.com/v1.0/directoryObjects/4c9b6f2e-1d0a-4f7e-9a35-0c8e2b7d5a11'] },
    },
  },
  contactFolder: {
    type: 'object',
    properties: { '@odata.context': ODATA_CONTEXT, id: GUID, displayName: { type: 'string' }, parentFolderId: { type: ['string', 'null'] } },
  },
  contactFolderCollection: page('contactFolder'),
  contactFolderCreate: { type: 'object', title: 'contactFolder', required: ['displayName'], properties: { displayName: NAME(256) } },
  contact: {
    type: 'object',
    properties: {
      '@odata.context': ODATA_CONTEXT,
      id: GUID,
      displayName: { type: 'string' },
      givenName: { type: ['string', 'null'] },
      surname: { type: ['string', 'null'] },
      emailAddresses: { type: 'array', items: { $ref: '#/components/schemas/emailAddress' } },
      parentFolderId: { type: ['string', 'null'] },
    },
  },
  contactCollection: page('contact'),
  emailAddress: { type: 'object', properties: { address: { type: 'string' }, name: { type: 'string' } } },
  // displayName may be left out when givenName, surname or an address can stand for it.
  contactCreate: {
    type: 'object',
    title: 'contact',
    properties: {
      displayName: OPTIONAL_TEXT(1024),
      givenName: OPTIONAL_TEXT(1024),
      surname: OPTIONAL_TEXT(1024),
      emailAddresses: {
        type: 'array',
        maxItems: 3,
        items: { type: 'object', title: 'emailAddress', required: ['address'], properties: { address: { type: 'string' }, name: { type: 'string' } } },
      },
    },
  },
  invitation: {
    type: 'object',
    properties: {
      '@odata.context': ODATA_CONTEXT,
      id: GUID,
      invitedUserEmailAddress: { type: 'string' },
      inviteRedirectUrl: { type: 'string' },
      inviteRedeemUrl: { type: 'string' },
      status: { type: 'string' },
      invitedUser: { type: 'object', properties: { id: GUID } },
    },
  },
  invitationCreate: {
    type: 'object',
    title: 'invitation',
    required: ['invitedUserEmailAddress', 'inviteRedirectUrl'],
    properties: {
      invitedUserEmailAddress: { type: 'string', format: 'email', pattern: '^[^@\\s]+@[^@\\s]+$' },
      inviteRedirectUrl: NAME(2048),
    },
  },
  drive: {
    type: 'object',
    properties: {
      '@odata.context': ODATA_CONTEXT,
      id: { type: 'string' },
      driveType: { type: 'string' },
      owner: { $ref: '#/components/schemas/identitySet' },
      root: { type: 'object', properties: { createdBy: { $ref: '#/components/schemas/identitySet' } } },
    },
  },
  identitySet: {
    type: 'object',
    properties: { user: { type: 'object', properties: { id: GUID, displayName: { type: 'string' } } } },
  },
  // Graph's error envelope (docs/errors.md lists every code).
  error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'innerError'],
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          innerError: {
            type: 'object',
            required: ['date', 'request-id', 'client-request-id'],
            properties: { date: { type: 'string' }, 'request-id': { type: 'string' }, 'client-request-id': { type: 'string' } },
          },
        },
      },
    },
  },
} as const satisfies Record<string, JsonSchema>;

export type SchemaName = keyof typeof SCHEMAS;

// ---------------------------------------------------------------------------
// Operations

export type Body =
  | { readonly kind: 'json'; readonly schema: SchemaName }
  /** The photo's JPEG bytes (answers), or any image (uploads: the format is read from the bytes). */
  | { readonly kind: 'image' };

export interface Operation {
  readonly summary: string;
  /** The permission table cell that decides it (auth/permissions.ts). */
  readonly permission: { readonly target: PermissionTarget; readonly access: Access };
  readonly request?: Body & { readonly graphType?: string };
  readonly status: number;
  readonly response?: Body;
  /** Statuses of the error catalog it can answer, beyond 400 and 401 which any request can. */
  readonly errors: readonly number[];
  /** If-None-Match (reads: 304) or If-Match (writes: 412). */
  readonly conditional?: 'read' | 'write';
  /** $select=id,width,height */
  readonly select?: boolean;
  /** A listing: paged, with $top, $skiptoken, $select, $filter, $orderby, $count, $search (http/odata-query.ts). */
  readonly list?: boolean;
}

export interface Route {
  /** Served under these versions only; both when absent. */
  readonly versions?: readonly ('v1.0' | 'beta')[];
  readonly templates: readonly string[];
  readonly operations: Readonly<Partial<Record<Method, Operation>>>;
}

// Where owners are: one list per grammar branch of graph-path.ts.
const USERS = ['/me', '/users/{user-id}', '/invitations/{invitation-id}/invitedUser'];
const DRIVES = ['/drive', '/drives/{drive-id}', ...USERS.map((user) => `${user}/drive`)];
const DRIVE_CREATORS = DRIVES.map((drive) => `${drive}/root/createdByUser`);
const TEAMS = ['/teams/{team-id}', ...USERS.map((user) => `${user}/joinedTeams/{team-id}`)];
// Folders nest without bound; the document shows one level of childFolders.
const FOLDERS = ['/contactFolders/{contactFolder-id}', '/contactFolders/{contactFolder-id}/childFolders/{childFolder-id}'];
const CONTACT_LISTS = USERS.flatMap((user) => ['', ...FOLDERS].map((folder) => `${user}${folder}/contacts`));
const CONTACTS = CONTACT_LISTS.map((list) => `${list}/{contact-id}`);

const PHOTO_OWNERS: Record<PhotoOwnerRef['kind'], readonly string[]> = {
  user: [...USERS, ...DRIVE_CREATORS],
  group: ['/groups/{group-id}'],
  team: [...TEAMS, '/groups/{group-id}/team'],
  contact: CONTACTS,
  joinedGroup: USERS.map((user) => `${user}/joinedGroups/{group-id}`),
};

const PHOTO_PERMISSION: Record<PhotoOwnerRef['kind'], PermissionTarget> = {
  user: 'userPhoto',
  group: 'groupPhoto',
  team: 'teamPhoto',
  contact: 'contactPhoto',
  // The group's photo, through one of its members: the group photo rows.
  joinedGroup: 'groupPhoto',
};

type PhotoPart = 'metadata' | 'value' | 'list' | 'size' | 'sizeValue';
const PHOTO_SUFFIX: Record<PhotoPart, string> = {
  metadata: '/photo',
  value: '/photo/$value',
  list: '/photos',
  size: '/photos/{size}',
  sizeValue: '/photos/{size}/$value',
};

function photoRoute(kind: PhotoOwnerRef['kind'], part: PhotoPart): Route {
  const route = photoRouteOf(kind, part);
  if (kind !== 'joinedGroup') return route;
  // joinedGroups/{id} is beta's, and Graph documents only reads through it (group-list-photos).
  return { versions: ['beta'], templates: route.templates, operations: { ...(route.operations.GET && { GET: route.operations.GET }) } };
}

function photoRouteOf(kind: PhotoOwnerRef['kind'], part: PhotoPart): Route {
  const target = PHOTO_PERMISSION[kind];
  const read = { target, access: 'read' } as const;
  const write = { target, access: 'write' } as const;
  const deletable = kind === 'user' || kind === 'group';
  const image = { kind: 'image' } as const;
  const photo = { kind: 'json', schema: 'profilePhoto' } as const;
  const templates = PHOTO_OWNERS[kind].map((owner) => owner + PHOTO_SUFFIX[part]);
  const remove: Operation = { summary: 'Delete the photo (every size).', permission: write, status: 200, errors: [403, 404, 412, 429], conditional: 'write' };
  const upload: Operation = {
    summary: 'Upload a photo: JPEG, PNG, WebP, GIF, AVIF or HEIC up to 4 MB, whatever the Content-Type says. Answers with an empty body.',
    permission: write,
    request: image,
    status: kind === 'team' ? 204 : 200,
    errors: [403, 404, 412, 413, 429, 503],
    conditional: 'write',
  };
  switch (part) {
    case 'metadata':
      return {
        templates,
        operations: {
          GET: { summary: 'The photo’s metadata (its largest size).', permission: read, status: 200, response: photo, errors: [403, 404], conditional: 'read', select: true },
          PATCH: {
            summary: 'Re-render the photo at width × height from the kept master (cover crop).',
            permission: write,
            request: { kind: 'json', schema: 'profilePhotoUpdate', graphType: 'microsoft.graph.profilePhoto' },
            status: 200,
            response: photo,
            errors: [403, 404, 412, 413, 429],
            conditional: 'write',
          },
          ...(deletable && { DELETE: remove }),
        },
      };
    case 'value':
      return {
        templates,
        operations: {
          GET: { summary: 'The photo’s JPEG bytes (its largest size).', permission: read, status: 200, response: image, errors: [403, 404], conditional: 'read' },
          PUT: upload,
          PATCH: upload,
          ...(deletable && { DELETE: remove }),
        },
      };
    case 'list':
      return {
        templates,
        operations: {
          GET: { summary: 'Every size there is (an empty collection when there is no photo).', permission: read, status: 200, response: { kind: 'json', schema: 'profilePhotoCollection' }, errors: [403, 404], conditional: 'read' },
        },
      };
    case 'size':
      return {
        templates,
        operations: {
          GET: { summary: 'One size’s metadata; {size} is 48x48 … 648x648.', permission: read, status: 200, response: photo, errors: [403, 404], conditional: 'read', select: true },
        },
      };
    case 'sizeValue':
      return {
        templates,
        operations: {
          GET: { summary: 'One size’s JPEG bytes; {size} is 48x48 … 648x648.', permission: read, status: 200, response: image, errors: [403, 404], conditional: 'read' },
        },
      };
  }
}

function directoryRoute(templates: readonly string[], target: PermissionTarget, operations: Record<string, Omit<Operation, 'permission'>>): Route {
  const described: Partial<Record<Method, Operation>> = {};
  for (const [method, operation] of Object.entries(operations)) {
    described[method as Method] = { ...operation, permission: { target, access: method === 'GET' ? 'read' : 'write' } };
  }
  return { templates, operations: described };
}

const json = (schema: SchemaName) => ({ kind: 'json', schema }) as const;

export const ROUTES = {
  'photo.user.metadata': photoRoute('user', 'metadata'),
  'photo.user.value': photoRoute('user', 'value'),
  'photo.user.list': photoRoute('user', 'list'),
  'photo.user.size': photoRoute('user', 'size'),
  'photo.user.sizeValue': photoRoute('user', 'sizeValue'),
  'photo.group.metadata': photoRoute('group', 'metadata'),
  'photo.group.value': photoRoute('group', 'value'),
  'photo.group.list': photoRoute('group', 'list'),
  'photo.group.size': photoRoute('group', 'size'),
  'photo.group.sizeValue': photoRoute('group', 'sizeValue'),
  'photo.team.metadata': photoRoute('team', 'metadata'),
  'photo.team.value': photoRoute('team', 'value'),
  'photo.contact.metadata': photoRoute('contact', 'metadata'),
  'photo.contact.value': photoRoute('contact', 'value'),
  'photo.joinedGroup.metadata': photoRoute('joinedGroup', 'metadata'),
  'photo.joinedGroup.value': photoRoute('joinedGroup', 'value'),
  'photo.joinedGroup.list': photoRoute('joinedGroup', 'list'),
  'photo.joinedGroup.size': photoRoute('joinedGroup', 'size'),
  'photo.joinedGroup.sizeValue': photoRoute('joinedGroup', 'sizeValue'),
  users: directoryRoute(['/users'], 'users', {
    GET: { summary: 'List the tenant’s users, a page at a time.', status: 200, response: json('userCollection'), errors: [403], list: true },
    POST: { summary: 'Create a user.', request: { ...json('userCreate'), graphType: 'microsoft.graph.user' }, status: 201, response: json('user'), errors: [403, 413] },
  }),
  user: directoryRoute([...USERS, ...DRIVE_CREATORS], 'user', {
    GET: { summary: 'A user.', status: 200, response: json('user'), errors: [403, 404] },
    DELETE: { summary: 'Delete a user, with their photo and contacts.', status: 204, errors: [403, 404] },
  }),
  groups: directoryRoute(['/groups'], 'groups', {
    GET: { summary: 'List the tenant’s groups, a page at a time.', status: 200, response: json('groupCollection'), errors: [403], list: true },
    POST: { summary: 'Create a group.', request: { ...json('groupCreate'), graphType: 'microsoft.graph.group' }, status: 201, response: json('group'), errors: [403, 413] },
  }),
  group: directoryRoute(['/groups/{group-id}'], 'group', {
    GET: { summary: 'A group.', status: 200, response: json('group'), errors: [403, 404] },
    DELETE: { summary: 'Delete a group, its team and its photo.', status: 204, errors: [403, 404] },
  }),
  team: directoryRoute(TEAMS, 'team', {
    GET: { summary: 'A team.', status: 200, response: json('team'), errors: [403, 404] },
  }),
  groupTeam: directoryRoute(['/groups/{group-id}/team'], 'team', {
    GET: { summary: 'The group’s team.', status: 200, response: json('team'), errors: [403, 404] },
    PUT: { summary: 'Create the group’s team.', request: { ...json('teamCreate'), graphType: 'microsoft.graph.team' }, status: 201, response: json('team'), errors: [403, 404, 413] },
  }),
  contactFolders: directoryRoute(
    USERS.flatMap((user) => [`${user}/contactFolders`, `${user}/contactFolders/{contactFolder-id}/childFolders`]),
    'contacts',
    {
      GET: { summary: 'List contact folders, a page at a time.', status: 200, response: json('contactFolderCollection'), errors: [403, 404], list: true },
      POST: { summary: 'Create a contact folder.', request: { ...json('contactFolderCreate'), graphType: 'microsoft.graph.contactFolder' }, status: 201, response: json('contactFolder'), errors: [403, 404, 413] },
    },
  ),
  contactFolder: directoryRoute(
    USERS.flatMap((user) => FOLDERS.map((folder) => user + folder)),
    'contacts',
    { GET: { summary: 'A contact folder.', status: 200, response: json('contactFolder'), errors: [403, 404] } },
  ),
  contacts: directoryRoute(CONTACT_LISTS, 'contacts', {
    GET: { summary: 'List contacts, a page at a time.', status: 200, response: json('contactCollection'), errors: [403, 404], list: true },
    POST: { summary: 'Create a contact.', request: { ...json('contactCreate'), graphType: 'microsoft.graph.contact' }, status: 201, response: json('contact'), errors: [403, 404, 413] },
  }),
  contact: directoryRoute(CONTACTS, 'contacts', {
    GET: { summary: 'A contact.', status: 200, response: json('contact'), errors: [403, 404] },
  }),
  invitations: directoryRoute(['/invitations'], 'invitations', {
    POST: { summary: 'Invite a guest: creates a guest user (invitedUser.id).', request: { ...json('invitationCreate'), graphType: 'microsoft.graph.invitation' }, status: 201, response: json('invitation'), errors: [403, 413] },
  }),
  invitation: directoryRoute(['/invitations/{invitation-id}'], 'invitations', {
    GET: { summary: 'An invitation.', status: 200, response: json('invitation'), errors: [403, 404] },
  }),
  // Membership: users are members of groups (http/membership-handler.ts).
  groupMembers: directoryRoute(['/groups/{group-id}/members'], 'groupMembers', {
    GET: { summary: 'The group’s members (users), 100 a page by default; $top up to 999, @odata.nextLink to the next.', status: 200, response: json('directoryObjectCollection'), errors: [403, 404] },
  }),
  groupMemberRefs: directoryRoute(['/groups/{group-id}/members/$ref'], 'groupMembers', {
    GET: { summary: 'The group’s members as references (@odata.id), paged as members.', status: 200, response: json('referenceCollection'), errors: [403, 404] },
    POST: {
      summary: 'Add a user to the group: {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{id}"}. 400 if they are a member already.',
      request: { ...json('memberReference'), graphType: 'microsoft.graph.directoryObject' },
      status: 204,
      errors: [403, 404, 413],
    },
  }),
  groupMemberRef: directoryRoute(['/groups/{group-id}/members/{member-id}/$ref'], 'groupMembers', {
    DELETE: { summary: 'Remove a member from the group.', status: 204, errors: [403, 404] },
  }),
  memberOf: directoryRoute(USERS.map((user) => `${user}/memberOf`), 'memberOf', {
    GET: { summary: 'The groups the user is a member of, paged as a group’s members.', status: 200, response: json('directoryObjectCollection'), errors: [403, 404] },
  }),
  drive: directoryRoute(DRIVES, 'drive', {
    GET: { summary: 'A user’s drive; its root’s creator is its owner.', status: 200, response: json('drive'), errors: [403, 404] },
  }),
} as const satisfies Record<string, Route>;

export type RouteKey = keyof typeof ROUTES;

/** The route a parsed path names. */
export function routeKeyOf(resource: Resource): RouteKey {
  switch (resource.type) {
    case 'photo':
      return photoRouteKey(resource.owner.kind, resource.target);
    case 'team':
      return resource.viaGroup ? 'groupTeam' : 'team';
    default:
      return resource.type;
  }
}

function photoRouteKey(kind: PhotoOwnerRef['kind'], target: PhotoTarget): RouteKey {
  const part: PhotoPart = target.op === 'size' ? (target.value ? 'sizeValue' : 'size') : target.op;
  const key = `photo.${kind}.${part}`;
  // The parser gives teams and contacts no photos collection or sizes (a 400 before this).
  if (!(key in ROUTES)) throw new Error(`no route ${key}`);
  return key as RouteKey;
}

/** The methods a route allows, in the order Allow lists them. */
export function methodsOf(key: RouteKey): Method[] {
  return Object.keys(ROUTES[key].operations) as Method[];
}

/** The operation a method runs on a route; undefined when it has none (405). */
export function operationOf(key: RouteKey, method: string): Operation | undefined {
  return (ROUTES[key].operations as Partial<Record<string, Operation>>)[method];
}
