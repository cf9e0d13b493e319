/** Graph's upload limit, "4 MB": 4 MiB, the most any request body may hold (contract §3.4). */
export const BODY_LIMIT = 4 * 1024 * 1024;
