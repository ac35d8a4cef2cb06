/** The local copy's default size bound: its own file, so `lively serve --help` can name it without loading the local copy. */
export const DEFAULT_CACHE_MAX_MB = 1024;
