package dev.m2mfa.agent.factor.posture;

import dev.m2mfa.agent.factor.StateDirectoryAware;
import dev.m2mfa.agent.posture.PostureAnchor;
import dev.m2mfa.agent.posture.PostureCollector;
import dev.m2mfa.agent.posture.PostureConfig;
import dev.m2mfa.agent.posture.ScanProgress;
import dev.m2mfa.api.factor.FactorProver;
import dev.m2mfa.api.posture.MeasurementDelta;
import dev.m2mfa.api.posture.MeasurementList;
import dev.m2mfa.api.posture.PostureEvidence;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.ServiceLoader;

/**
 * Factor {@code posture} on the agent: measures the machine (files, packages, processes,
 * listeners, OS; options {@code posture.*} in agent.conf, see {@link PostureConfig}) and sends
 * the canonical list's digest with either the full list or, when the authority's challenge
 * names a base report this agent still has, only the changes against it.
 *
 * <p>Off the critical path: when attached, a background scan warms the incremental cache, so a
 * login re-reads only files whose (dev, inode, size, mtime, ctime) changed; a due full rescan
 * runs in the background after a login, not during one. The last four reports sent are kept
 * in {@code posture/sent/} to build deltas. With a {@link PostureAnchor} installed (the TPM
 * work), the report digest is extended into a PCR and quoted over the login nonce.
 */
public final class PostureFactorProver implements FactorProver, StateDirectoryAware {
  private static final int KEEP_SENT = 4;
  private static final int MAX_NONCE_CHARS = 128;

  private volatile Path dir;
  private volatile PostureCollector collector;
  private final Optional<PostureAnchor> anchor;

  public PostureFactorProver() {
    this.anchor = ServiceLoader.load(PostureAnchor.class).findFirst();
  }

  @Override
  public String name() {
    return "posture";
  }

  @Override
  public void attach(Path agentDirectory) {
    this.dir = agentDirectory;
    anchor.ifPresent(a -> a.attach(agentDirectory));
    // warm the file hash cache in the background, only where files are configured: every agent
    // loads this prover, and one that never answers a posture challenge must not pay for it
    if (!configuredRoots(agentDirectory)) return;
    Thread.ofVirtual().name("posture-warmup").start(() -> {
      try {
        collector().collect(false, ScanProgress.NONE);
      } catch (Exception e) {
        // the login will scan itself and report the failure there
      }
    });
  }

  private static boolean configuredRoots(Path agentDirectory) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(agentDirectory.resolve("agent.conf"))) {
      p.load(r);
    } catch (IOException e) {
      return false;
    }
    return !p.getProperty("posture.roots", "").isBlank();
  }

  @Override
  public Map<String, Object> prove(String machineName, Map<String, Object> challenge) throws Exception {
    PostureCollector c = collector();
    if (!(challenge.get("nonce") instanceof String nonce) || nonce.isEmpty() || nonce.length() > MAX_NONCE_CHARS) {
      throw new IOException("posture challenge has no usable nonce");
    }
    MeasurementList report = c.collect(false, ScanProgress.NONE);
    Map<String, Object> evidence = null;
    if (challenge.get("base") instanceof String base && base.matches("[0-9a-f]{64}")) {
      MeasurementList previous = loadSent(base);
      if (previous != null) {
        MeasurementDelta d = MeasurementDelta.between(previous, report);
        if (d.changes() <= MeasurementDelta.MAX_CHANGES) evidence = PostureEvidence.delta(nonce, previous, report);
      }
    }
    if (evidence == null) evidence = PostureEvidence.full(nonce, report);
    if (anchor.isPresent()) {
      Map<String, Object> anchored = anchor.get().anchor(report.digest(), nonce.getBytes(StandardCharsets.US_ASCII));
      if (anchored != null) evidence.put("anchor", anchored); // null: the anchor is installed but not enabled here
    }
    saveSent(report);
    if (c.fullRescanDue()) {
      Thread.ofVirtual().name("posture-rescan").start(() -> {
        try {
          c.collect(true, ScanProgress.auto("posture rescan"));
        } catch (Exception e) {
          // retried at the next login
        }
      });
    }
    return evidence;
  }

  private PostureCollector collector() throws IOException {
    PostureCollector c = collector;
    if (c != null) return c;
    synchronized (this) {
      if (collector != null) return collector;
      Path d = dir;
      if (d == null) {
        String prop = System.getProperty("m2mfa.agent.dir");
        if (prop == null) throw new IOException("posture factor is not attached to an agent state directory");
        d = Path.of(prop);
      }
      Properties p = new Properties();
      Path conf = d.resolve("agent.conf");
      if (Files.exists(conf)) {
        try (Reader r = Files.newBufferedReader(conf)) {
          p.load(r);
        }
      }
      Files.createDirectories(d.resolve("posture").resolve("sent"));
      collector = new PostureCollector(PostureConfig.from(p), d.resolve("posture").resolve("hash-cache.bin"), Clock.systemUTC());
      dir = d;
      return collector;
    }
  }

  private Path sentDir() {
    return dir.resolve("posture").resolve("sent");
  }

  private MeasurementList loadSent(String digestHex) {
    Path f = sentDir().resolve(digestHex + ".bin");
    try {
      if (!Files.isRegularFile(f) || Files.size(f) > MeasurementList.MAX_ENCODED_BYTES) return null;
      MeasurementList l = MeasurementList.decode(MeasurementList.inflate(Files.readAllBytes(f), MeasurementList.MAX_ENCODED_BYTES));
      return l.digestHex().equals(digestHex) ? l : null;
    } catch (IOException | IllegalArgumentException e) {
      return null;
    }
  }

  private void saveSent(MeasurementList report) throws IOException {
    Path d = sentDir();
    Path f = d.resolve(report.digestHex() + ".bin");
    Path tmp = d.resolve(report.digestHex() + ".tmp");
    Files.write(tmp, MeasurementList.deflate(report.encode()));
    Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    List<Path> all = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(d, "*.bin")) {
      ds.forEach(all::add);
    }
    if (all.size() <= KEEP_SENT) return;
    all.sort(Comparator.comparingLong(p -> {
      try {
        return Files.getLastModifiedTime(p).toMillis();
      } catch (IOException e) {
        return 0L;
      }
    }));
    for (int i = 0; i < all.size() - KEEP_SENT; i++) Files.deleteIfExists(all.get(i));
  }
}
