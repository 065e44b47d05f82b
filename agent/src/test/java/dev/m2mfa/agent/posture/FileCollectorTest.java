package dev.m2mfa.agent.posture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.api.posture.Measurement;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File measurements on a real temporary tree. */
class FileCollectorTest {
  @TempDir Path root;

  static String sha(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static Map<String, String> byKey(List<Measurement> ms) {
    return ms.stream().collect(Collectors.toMap(Measurement::key, Measurement::value));
  }

  @Test
  void hashesEveryFileInParallelAndRecordsSymlinks() throws Exception {
    Files.createDirectories(root.resolve("sbin/sub"));
    byte[] big = new byte[3 * 1024 * 1024 + 17]; // larger than the 1 MiB buffer
    for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31);
    Files.write(root.resolve("sbin/big"), big);
    Files.writeString(root.resolve("sbin/sub/small"), "hello");
    Files.write(root.resolve("sbin/empty"), new byte[0]);
    for (int i = 0; i < 50; i++) Files.writeString(root.resolve("sbin/sub/f" + i), "content " + i);
    Files.createSymbolicLink(root.resolve("sbin/link"), Path.of("/tmp/evil"));

    FileCollector.Result r = new FileCollector(4).scan(List.of(root.resolve("sbin")), List.of(), null, ScanProgress.NONE);
    Map<String, String> m = byKey(r.measurements());
    assertThat(m).hasSize(54);
    assertThat(m.get(root.resolve("sbin/big").toString())).isEqualTo(sha(big));
    assertThat(m.get(root.resolve("sbin/sub/small").toString())).isEqualTo(sha("hello".getBytes()));
    assertThat(m.get(root.resolve("sbin/empty").toString())).isEqualTo(sha(new byte[0]));
    assertThat(m.get(root.resolve("sbin/sub/f7").toString())).isEqualTo(sha("content 7".getBytes()));
    assertThat(m.get(root.resolve("sbin/link").toString())).isEqualTo("link:/tmp/evil");
    assertThat(r.stats().hashedFiles()).isEqualTo(53);
    // "content 0".."content 9" are 9 bytes, "content 10".."content 49" 10 bytes
    assertThat(r.stats().bytes()).isEqualTo(big.length + 5 + 10 * 9 + 40 * 10);
  }

  @Test
  void globsSelectFilesByAbsolutePath() throws Exception {
    Files.createDirectories(root.resolve("lib"));
    Files.writeString(root.resolve("lib/a.so"), "a");
    Files.writeString(root.resolve("lib/b.txt"), "b");
    FileCollector.Result r = new FileCollector(2).scan(List.of(root), List.of("**/*.so"), null, ScanProgress.NONE);
    assertThat(byKey(r.measurements())).containsOnlyKeys(root.resolve("lib/a.so").toString());
  }

  @Test
  void controlCharactersInNamesAreEscapedNotHidden() throws Exception {
    Path odd = root.resolve("evil\nname");
    Files.writeString(odd, "x");
    Map<String, String> m = byKey(new FileCollector(1).scan(List.of(root), List.of(), null, ScanProgress.NONE).measurements());
    assertThat(m).containsKey(root + "/evil\\x0aname");
  }

  @Test
  void incrementalScanRereadsOnlyChangedFilesAndSeesContentChangeWithMtimeRestored() throws Exception {
    Path a = root.resolve("a");
    Path b = root.resolve("b");
    Files.writeString(a, "original");
    Files.writeString(b, "stable");
    FileTime old = FileTime.fromMillis(System.currentTimeMillis() - 3_600_000);
    Files.setLastModifiedTime(a, old);
    Files.setLastModifiedTime(b, old);
    // ctime is now; files changed within 2 s of a scan are not cached (same clock tick), so wait that out once
    Thread.sleep(2_200);

    HashCache cache = new HashCache();
    FileCollector fc = new FileCollector(2);
    FileCollector.Result first = fc.scan(List.of(root), List.of(), cache, ScanProgress.NONE);
    assertThat(first.stats().hashedFiles()).isEqualTo(2);
    assertThat(cache.size()).isEqualTo(2);

    FileCollector.Result second = fc.scan(List.of(root), List.of(), cache, ScanProgress.NONE);
    assertThat(second.stats().hashedFiles()).isZero();
    assertThat(second.stats().cacheHits()).isEqualTo(2);

    // same size, mtime put back: only ctime (which user space cannot set) tells
    Files.writeString(a, "tampered");
    Files.setLastModifiedTime(a, old);
    FileCollector.Result third = fc.scan(List.of(root), List.of(), cache, ScanProgress.NONE);
    assertThat(third.stats().hashedFiles()).isEqualTo(1);
    assertThat(byKey(third.measurements()).get(a.toString())).isEqualTo(sha("tampered".getBytes(StandardCharsets.UTF_8)));

    // the cache survives a restart of the agent
    Path outside = Files.createTempFile("posture-cache", ".bin");
    try {
      cache.save(outside);
      HashCache loaded = HashCache.load(outside);
      assertThat(loaded.size()).isEqualTo(cache.size());
      FileCollector.Result fourth = fc.scan(List.of(root), List.of(), loaded, ScanProgress.NONE);
      assertThat(fourth.stats().cacheHits()).isGreaterThanOrEqualTo(1);
      // a damaged cache file is ignored, not trusted
      Files.write(outside, new byte[] {1, 2, 3});
      assertThat(HashCache.load(outside).size()).isZero();
    } finally {
      Files.deleteIfExists(outside);
    }
  }
}
