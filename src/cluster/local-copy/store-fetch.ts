/**
 * How the local copy gets an artifact it does not hold from the store, frugally, because after
 * a deploy every node of the cluster wants the same new artifact:
 *
 * - By sha256 first. One read asks only for the version's sha256; when a file of that name is
 *   already here (the same artifact under another module or version, or files kept from a
 *   snapshot that could not be believed), it is read from disk, and the store never sends the
 *   bytes. Only otherwise does the same read go on to fetch the artifact (both in one read, so
 *   one connection, one snapshot).
 * - One fetch per module@version at a time on this node: a cold request, a preload and the
 *   copy's own sync that want the same version while its fetch is in flight share that fetch.
 *
 * Whether the bytes match their sha256 is the caller's to check (a request refuses them, a sync
 * skips them): a file read here has passed that check already.
 *
 * Owns: the in-flight fetches and what they cost. Must not import above store/ (its folder aside).
 */
import { getVersionArtifact, getVersionSha256 } from "../../store/queries/versions.ts";
import type { Db, Store } from "../../store/store.ts";
import type { ArtifactFiles, ArtifactRead } from "./artifact-files.ts";

export interface FetchedArtifact {
  sha256: string;
  artifact: string;
}

export class StoreFetches {
  private readonly flights = new Map<string, Promise<FetchedArtifact | undefined>>();
  /** Artifacts whose bytes the store sent, since start. */
  fetched = 0;
  /** Versions the store answered with a sha256 a local file already had. */
  servedBySha = 0;

  constructor(private readonly files: ArtifactFiles) {}

  /** The version's artifact (undefined: the store has no such version); shared while in flight. */
  fetch(store: Store, module: string, version: number): Promise<FetchedArtifact | undefined> {
    const ref = `${module}@${version}`;
    const inFlight = this.flights.get(ref);
    if (inFlight) return inFlight;
    const flight = store.read((db) => this.read(db, module, version));
    this.flights.set(ref, flight);
    const clear = () => {
      if (this.flights.get(ref) === flight) this.flights.delete(ref);
    };
    flight.then(clear, clear);
    return flight;
  }

  private async read(db: Db, module: string, version: number): Promise<FetchedArtifact | undefined> {
    const sha256 = await getVersionSha256(db, module, version);
    if (sha256 === undefined) return undefined;
    if (this.files.has(sha256)) {
      const read = await this.files.read(sha256).catch((): ArtifactRead => ({ ok: false, reason: "missing" }));
      if (read.ok) {
        this.servedBySha++;
        return { sha256, artifact: read.artifact };
      }
    }
    const stored = await getVersionArtifact(db, module, version);
    if (stored) this.fetched++;
    return stored;
  }
}
