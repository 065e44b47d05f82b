package dev.m2mfa.agent.posture;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * SHA-256 of a file's content with one reusable direct buffer and one {@link MessageDigest}
 * per instance: make one per worker thread, never share one. Reads through a
 * {@link FileChannel} opened with {@code O_NOFOLLOW} (a symlink swapped in between listing and
 * hashing is not followed). The JDK's SHA-256 uses the CPU's SHA instructions where present, so
 * the digest, not I/O, is the limit on a warm page cache; mmap brought nothing measurable over
 * a 1 MiB direct buffer for the mostly small files of a system tree and costs a mapping per file.
 */
public final class FileHasher {
  private static final int BUFFER_BYTES = 1 << 20;
  private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
  private final MessageDigest sha256;

  public FileHasher() {
    try {
      sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The raw 32-byte digest. */
  public byte[] hash(Path file) throws IOException {
    return hash(file, false);
  }

  /**
   * @param followLink true only for kernel links such as {@code /proc/PID/exe}, which must be
   *     followed to reach the image
   */
  public byte[] hash(Path file, boolean followLink) throws IOException {
    sha256.reset();
    try (FileChannel ch = followLink ? FileChannel.open(file, StandardOpenOption.READ)
        : FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      while (true) {
        buffer.clear();
        int n = ch.read(buffer);
        if (n < 0) break;
        buffer.flip();
        sha256.update(buffer);
      }
    }
    return sha256.digest();
  }

  public String hashHex(Path file) throws IOException {
    return HexFormat.of().formatHex(hash(file));
  }

  static String hex(byte[] digest) {
    return HexFormat.of().formatHex(digest);
  }
}
