package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import dev.m2mfa.api.posture.MeasurementList;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs every configured collector and returns one canonical {@link MeasurementList}.
 *
 * <p>Files go through the incremental {@link HashCache} (kept in {@code cacheFile}), except when
 * a full rescan is due ({@code posture.rescan_hours} since the last one) or requested: then
 * every file is read again and the cache rebuilt. Processes, listeners, packages and the OS
 * are always read fresh (they are cheap). Not thread-safe: one scan at a time (the prover
 * serialises).
 */
public final class PostureCollector {
  private final PostureConfig config;
  private final Path cacheFile;
  private final Clock clock;
  private final FileCollector files;
  private HashCache cache;
  /** Hashes of running executables, in memory only (images rarely change under a running process). */
  private final HashCache processCache = new HashCache();
  private FileCollector.Stats lastFileStats;

  /** @param cacheFile where the incremental cache lives, or null for no cache (every scan is full) */
  public PostureCollector(PostureConfig config, Path cacheFile, Clock clock) {
    this.config = config;
    this.cacheFile = cacheFile;
    this.clock = clock;
    this.files = new FileCollector();
  }

  public PostureConfig config() {
    return config;
  }

  /** The file statistics of the last scan (hashed files, cache hits). */
  public FileCollector.Stats lastFileStats() {
    return lastFileStats;
  }

  public boolean fullRescanDue() {
    HashCache c = cache();
    return c == null || clock.millis() - c.lastFullScanMillis() >= config.rescanInterval().toMillis();
  }

  /** Measures everything; files incrementally unless a full rescan is due or {@code forceFull}. */
  public synchronized MeasurementList collect(boolean forceFull, ScanProgress progress) throws IOException {
    List<Measurement> all = new ArrayList<>();
    if (!config.roots().isEmpty()) {
      HashCache c = cache();
      boolean full = forceFull || c == null || fullRescanDue();
      HashCache use = c == null ? null : full ? new HashCache() : c;
      FileCollector.Result r = files.scan(config.roots(), config.globs(), use, progress);
      lastFileStats = r.stats();
      all.addAll(r.measurements());
      if (use != null) {
        if (full) use.fullScanDone(clock.millis());
        else use.fullScanDone(c.lastFullScanMillis());
        cache = use;
        use.save(cacheFile);
      }
    }
    if (config.packages()) all.addAll(new PackageCollector().collect());
    if (!config.processPrefixes().isEmpty()) all.addAll(new ProcessCollector().collect(config::processIncluded, processCache));
    if (config.listeners()) all.addAll(new ListenerCollector().collect(config::listenerPortIncluded));
    if (config.os()) all.addAll(new OsCollector().collect());
    return MeasurementList.of(all);
  }

  private HashCache cache() {
    if (cacheFile == null) return null;
    if (cache == null) cache = HashCache.load(cacheFile);
    return cache;
  }
}
