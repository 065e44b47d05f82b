package dev.m2mfa.authority.policy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The policy in force, reloaded when its files change.
 *
 * <p>Design: the compiled {@link Policy} and its {@link PolicyStatus} sit together in one
 * {@link AtomicReference}; a login reads {@link #current()} once and uses that instance for
 * the whole decision, so a reload never mixes two policies in one login. {@link #reload()}
 * compiles the files from scratch; only a policy that compiled without a single error
 * replaces the old one. A bad file keeps the old policy in force, logs one WARN line per
 * error and records them in the status, which stays unhealthy until the files load again.
 *
 * <p>Watching is mtime polling, not {@code WatchService}: polling sees edits made through a
 * symlink swap (how Kubernetes updates a mounted ConfigMap) and needs no per-platform
 * behaviour; a stat of a few files each second costs nothing. A change of any file's
 * modification time, size, or the set of files triggers {@link #reload()}; a reload whose
 * content digest equals the policy in force changes nothing. Tests call {@link #reload()}
 * directly instead of waiting.
 *
 * <p>The first load ({@link #open}) must succeed: an authority does not start without a
 * valid policy.
 */
public final class PolicySource implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PolicySource.class);

  private record State(Policy policy, PolicyStatus status) {}

  private final List<Path> paths;
  private final Set<String> installedFactors;
  private final Clock clock;
  private final AtomicReference<State> state = new AtomicReference<>();
  private final List<Consumer<PolicyStatus>> listeners = new CopyOnWriteArrayList<>();
  private final Object reloadLock = new Object();
  private volatile List<String> lastStamp = List.of();
  private ScheduledExecutorService watcher;

  private PolicySource(List<Path> paths, Set<String> installedFactors, Clock clock) {
    this.paths = List.copyOf(paths);
    this.installedFactors = Set.copyOf(installedFactors);
    this.clock = clock;
  }

  /**
   * Loads the policy files (each path a file or a directory of {@code *.yaml}).
   *
   * @throws PolicyException if they do not load; nothing is started
   */
  public static PolicySource open(List<Path> paths, Set<String> installedFactors) throws PolicyException {
    return open(paths, installedFactors, Clock.systemUTC());
  }

  /**
   * A source that always holds {@code policy} and never reloads (e.g. the legacy
   * {@code class.*} lines, {@link Policy#fromLegacyClasses}), so callers can hold a
   * {@code PolicySource} either way. Its digest is {@code "fixed"}.
   */
  public static PolicySource fixed(Policy policy) {
    PolicySource s = new PolicySource(List.of(), Set.of(), Clock.systemUTC());
    var now = s.clock.instant();
    s.state.set(new State(Objects.requireNonNull(policy), new PolicyStatus(1, "fixed", List.of(), now, now, List.of())));
    return s;
  }

  static PolicySource open(List<Path> paths, Set<String> installedFactors, Clock clock) throws PolicyException {
    PolicySource s = new PolicySource(paths, installedFactors, clock);
    s.lastStamp = s.stamp();
    PolicyLoader.Loaded loaded = PolicyLoader.load(s.paths, s.installedFactors);
    var now = clock.instant();
    s.state.set(new State(loaded.policy(), new PolicyStatus(1, loaded.digest(), loaded.files(), now, now, List.of())));
    LOG.info("policy loaded: {} classes from {} (digest {})", loaded.policy().classNames().size(), loaded.files(), loaded.digest());
    return s;
  }

  /** The policy in force. Read it once per decision. */
  public Policy current() {
    return state.get().policy();
  }

  public PolicyStatus status() {
    return state.get().status();
  }

  /** Called after every reload attempt, good or bad (on the reloading thread; keep it short). */
  public void onReload(Consumer<PolicyStatus> listener) {
    listeners.add(Objects.requireNonNull(listener));
  }

  /**
   * Reads the files again now. On success the new policy is in force (generation + 1 if its
   * content changed); on failure the old one stays and the returned status lists the errors.
   */
  public PolicyStatus reload() {
    if (paths.isEmpty()) return status(); // fixed: nothing to read
    PolicyStatus result;
    synchronized (reloadLock) {
      lastStamp = stamp();
      State old = state.get();
      var now = clock.instant();
      try {
        PolicyLoader.Loaded loaded = PolicyLoader.load(paths, installedFactors);
        if (loaded.digest().equals(old.status().digest())) {
          result = new PolicyStatus(old.status().generation(), old.status().digest(), old.status().files(), old.status().loadedAt(), now,
              List.of());
          state.set(new State(old.policy(), result));
          if (!old.status().healthy()) LOG.info("policy files are valid again; policy in force unchanged (digest {})", loaded.digest());
        } else {
          result = new PolicyStatus(old.status().generation() + 1, loaded.digest(), loaded.files(), now, now, List.of());
          state.set(new State(loaded.policy(), result));
          LOG.info("policy reloaded: generation {}, {} classes (digest {})", result.generation(), loaded.policy().classNames().size(),
              loaded.digest());
        }
      } catch (PolicyException e) {
        result = new PolicyStatus(old.status().generation(), old.status().digest(), old.status().files(), old.status().loadedAt(), now,
            e.errors());
        state.set(new State(old.policy(), result));
        for (PolicyError err : e.errors()) {
          LOG.warn("policy reload refused, generation {} stays in force: {}", old.status().generation(), err);
        }
      }
    }
    for (Consumer<PolicyStatus> l : listeners) {
      try {
        l.accept(result);
      } catch (RuntimeException ex) {
        LOG.warn("policy reload listener failed: {}", ex.toString());
      }
    }
    return result;
  }

  /**
   * Polls the files every {@code interval} (about 1 s is right) on one daemon thread and
   * reloads when their modification times, sizes or names change.
   */
  public synchronized void startWatching(Duration interval) {
    if (watcher != null || paths.isEmpty()) return;
    watcher = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "policy-watch");
      t.setDaemon(true);
      return t;
    });
    long ms = Math.max(100, interval.toMillis());
    watcher.scheduleWithFixedDelay(this::pollOnce, ms, ms, TimeUnit.MILLISECONDS);
  }

  /** One poll: reload if the files' stamps changed since the last look. Returns whether it reloaded. */
  boolean pollOnce() {
    try {
      if (stamp().equals(lastStamp)) return false;
      reload();
      return true;
    } catch (RuntimeException e) {
      LOG.warn("policy watch failed: {}", e.toString());
      return false;
    }
  }

  /** Name, size and modification time of every policy file the paths name now. */
  private List<String> stamp() {
    List<String> out = new ArrayList<>();
    for (Path p : paths) {
      try {
        if (Files.isDirectory(p)) {
          try (Stream<Path> s = Files.list(p)) {
            for (Path f : s.sorted().toList()) out.add(stampOf(f));
          }
        } else {
          out.add(stampOf(p));
        }
      } catch (IOException e) {
        out.add(p + " unreadable");
      }
    }
    return out;
  }

  private static String stampOf(Path f) {
    try {
      BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
      return f + " " + a.size() + " " + a.lastModifiedTime().toMillis() + " " + a.fileKey();
    } catch (IOException e) {
      return f + " missing";
    }
  }

  @Override
  public synchronized void close() {
    if (watcher != null) watcher.shutdownNow();
    watcher = null;
  }
}
