/** The public API, as the portal calls it: the pasted API key, the version header, and the
 * server's {"error": "..."} messages carried verbatim. */

export const RUNWAY_VERSION = "2024-11-06";
const KEY = "opencharacters.portal.apiKey";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** sessionStorage: the key lives as long as this tab, and no other tab or site sees it. */
export const apiKey = {
  get: () => sessionStorage.getItem(KEY),
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

let unauthorized = () => {};
export function onUnauthorized(fn) {
  unauthorized = fn;
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One API call; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function api(method, path, body, { key, signal } = {}) {
  const headers = {
    Authorization: `Bearer ${key || apiKey.get() || ""}`,
    "X-Runway-Version": RUNWAY_VERSION,
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, `The server did not answer (${error.message}).`, null);
  }
  const data = await parse(response);
  if (!response.ok) {
    const message =
      data && typeof data.error === "string"
        ? data.error
        : `${response.status} ${response.statusText || "error"}`;
    if (response.status === 401 && !key) unauthorized(message);
    throw new ApiError(response.status, message, data);
  }
  return data;
}

/** Every item of a paginated list (following nextCursor), up to `max`. */
export async function listAll(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

/** An ephemeral upload (POST /v1/uploads, then the presigned multipart POST) → runway:// URI. */
export async function upload(file) {
  const started = await api("POST", "/v1/uploads", { filename: file.name || "file", type: "ephemeral" });
  const form = new FormData();
  for (const [name, value] of Object.entries(started.fields)) form.append(name, value);
  form.append("file", file, file.name || "file");
  let response;
  try {
    response = await fetch(started.uploadUrl, { method: "POST", body: form });
  } catch (error) {
    throw new ApiError(0, `The upload failed (${error.message}).`, null);
  }
  if (!response.ok) {
    const data = await parse(response);
    const message = data && data.error ? data.error : `Upload failed (${response.status}).`;
    throw new ApiError(response.status, message, data);
  }
  return started.runwayUri;
}
