package dev.m2mfa.agent.keys.tpm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * The agent's way to the TPM: the tpm2-tools programs (tpm2-software project, Debian
 * {@code tpm2-tools} 5.4), run as processes with a TCTI naming the TPM:
 * {@code device:/dev/tpmrm0} in production (the kernel's resource manager), and
 * {@code swtpm:host=127.0.0.1,port=P} in tests.
 *
 * <p>Why tpm2-tools, not TSS.Java or our own marshalling: tpm2-tools is maintained, packaged
 * by Debian, and its ECC flow (EK, AK, certify, quote, credential activation, sealing) is
 * measured on this platform. TSS.Java 1.0.0 is unmaintained since 2020, drags in
 * BouncyCastle 1.60 and JNA 4.4, and its ECDSA quote validation is wrong. Our own command
 * marshalling would have to re-implement HMAC and policy sessions (the EK only releases a
 * credential inside a PolicySecret/PolicyOR session): a lot of new security code where a
 * maintained implementation exists. The price is a process per operation (a signature costs
 * one {@code tpm2_sign} run, about 25 ms here) and the need to pass data through files;
 * every file lives in a private (0700) per-operation directory that is deleted afterwards,
 * and secrets that come out of the TPM are read and the file removed at once.
 *
 * <p>Transient handles: without a resource manager (swtpm, or a TPM opened directly) every
 * object a tool loads stays in the TPM until flushed, and a few operations fill it
 * (TPM_RC 0x902). Every multi-step operation here runs under one lock and ends with
 * {@link #flushTransients}; with {@code /dev/tpmrm0} that call finds nothing to flush.
 */
public final class TpmTools {
  /** Production: the kernel's TPM resource manager. */
  public static final String DEVICE_TCTI = "device:/dev/tpmrm0";
  private static final int MAX_OUTPUT = 1024 * 1024;
  private static final long TIMEOUT_SECONDS = 60;

  private final String tcti;
  private final ReentrantLock lock = new ReentrantLock(true);

  private TpmTools(String tcti) {
    this.tcti = tcti;
  }

  /** A TPM reached through {@code tcti} (for example {@link #DEVICE_TCTI}). */
  public static TpmTools of(String tcti) {
    if (tcti == null || !tcti.matches("[A-Za-z0-9:=,./_-]{1,200}")) throw new IllegalArgumentException("invalid TCTI string");
    return new TpmTools(tcti);
  }

  private static final java.util.concurrent.ConcurrentMap<String, TpmTools> SHARED = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * The one instance for {@code tcti} in this process: every key and sealed secret on the same
   * TPM shares its lock, so one key's flush of transient objects never hits another key's
   * operation in flight (this matters without a resource manager).
   */
  public static TpmTools shared(String tcti) {
    TpmTools fresh = of(tcti);
    return SHARED.computeIfAbsent(fresh.tcti, t -> fresh);
  }

  public String tcti() {
    return tcti;
  }

  /** The output of one tool run. */
  record Output(int exitCode, byte[] stdout, String stderr) {}

  /** Runs one tool; a non-zero exit is returned, not thrown. */
  Output run(byte[] stdin, String... command) throws TpmException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("TPM2TOOLS_TCTI", tcti);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new TpmException(command[0] + " could not be started (is tpm2-tools installed?)", e);
    }
    try {
      Thread errReader;
      byte[][] err = new byte[1][];
      errReader = Thread.ofVirtual().start(() -> err[0] = readBounded(p.getErrorStream()));
      try (var in = p.getOutputStream()) {
        if (stdin != null) in.write(stdin);
      }
      byte[] out = readBounded(p.getInputStream());
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new TpmException(command[0] + " timed out");
      }
      errReader.join();
      return new Output(p.exitValue(), out, new String(err[0] == null ? new byte[0] : err[0], StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new TpmException(command[0] + " failed to run", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new TpmException(command[0] + " interrupted");
    }
  }

  /** Runs one tool and throws with the tool's own error line when it fails. */
  byte[] runOk(String step, String... command) throws TpmException {
    return runOkWithInput(step, null, command);
  }

  byte[] runOkWithInput(String step, byte[] stdin, String... command) throws TpmException {
    Output o = run(stdin, command);
    if (o.exitCode() != 0) throw new TpmException(step + " failed: " + errorLine(o.stderr()));
    return o.stdout();
  }

  /** The most telling line of a tool's error output (the TPM response code line). */
  static String errorLine(String stderr) {
    String best = null;
    for (String line : stderr.split("\n")) {
      String l = line.strip();
      if (l.startsWith("ERROR: Esys_") || l.startsWith("ERROR: Tss2_")) return l.substring("ERROR: ".length());
      if (best == null && l.startsWith("ERROR")) best = l;
    }
    if (best != null) return best.replaceFirst("^ERROR:\\s*", "");
    return stderr.isBlank() ? "no error output" : stderr.strip().lines().findFirst().orElse("");
  }

  /** Flushes every transient object and loaded session (a no-op behind a resource manager). */
  void flushTransients() {
    try {
      run(null, "tpm2_flushcontext", "-t");
      run(null, "tpm2_flushcontext", "-l");
    } catch (TpmException e) {
      // best effort: the next operation reports a full TPM if this failed
    }
  }

  /** Work that uses the TPM exclusively and leaves no transient object behind. */
  interface TpmWork<T> {
    T run(Path work) throws IOException;
  }

  /** Runs {@code work} under the TPM lock with a private scratch directory; flushes and deletes afterwards. */
  <T> T exclusive(TpmWork<T> work) throws IOException {
    lock.lock();
    Path dir = Files.createTempDirectory("m2mfa-tpm-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      return work.run(dir);
    } finally {
      flushTransients();
      deleteTree(dir);
      lock.unlock();
    }
  }

  /** Like {@link #exclusive} for an operation that loads nothing transient (no flush). */
  <T> T exclusiveNoFlush(TpmWork<T> work) throws IOException {
    lock.lock();
    Path dir = Files.createTempDirectory("m2mfa-tpm-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      return work.run(dir);
    } finally {
      deleteTree(dir);
      lock.unlock();
    }
  }

  /** Reads and deletes a file a tool wrote (for secrets: the file lives only as long as needed). */
  static byte[] take(Path file, int max) throws IOException {
    try {
      if (Files.size(file) > max) throw new TpmException("a TPM tool wrote more than expected");
      return Files.readAllBytes(file);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  static String hex(byte[] b) {
    return java.util.HexFormat.of().formatHex(b);
  }

  static String handle(int h) {
    return String.format("0x%08x", h);
  }

  /** Persistent or NV handles listed by {@code tpm2_getcap}. */
  List<Integer> handles(String capability) throws TpmException {
    String out = new String(runOk("listing TPM handles", "tpm2_getcap", capability), StandardCharsets.UTF_8);
    List<Integer> result = new ArrayList<>();
    for (String line : out.split("\n")) {
      String l = line.strip();
      if (l.startsWith("- 0x")) {
        try {
          result.add(Integer.parseUnsignedInt(l.substring(4), 16));
        } catch (NumberFormatException ignored) {
          // not a handle line
        }
      }
    }
    return result;
  }

  private static byte[] readBounded(InputStream in) {
    try {
      byte[] b = in.readNBytes(MAX_OUTPUT);
      in.transferTo(OutputStreamSink.INSTANCE);
      return b;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final class OutputStreamSink extends java.io.OutputStream {
    static final OutputStreamSink INSTANCE = new OutputStreamSink();

    @Override
    public void write(int b) {}

    @Override
    public void write(byte[] b, int off, int len) {}
  }

  static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // best effort
        }
      });
    } catch (IOException ignored) {
      // already gone
    }
  }

  /** The current value of SHA-256 PCR {@code pcr} (32 bytes). */
  public byte[] pcrRead(int pcr) throws IOException {
    if (pcr < 0 || pcr > 23) throw new IllegalArgumentException("PCR index must be 0-23");
    return exclusiveNoFlush(work -> {
      Path out = work.resolve("pcr.bin");
      runOk("reading PCR " + pcr, "tpm2_pcrread", "sha256:" + pcr, "-o", out.toString());
      byte[] value = take(out, 64);
      if (value.length != 32) throw new TpmException("PCR " + pcr + " read returned " + value.length + " bytes, not 32");
      return value;
    });
  }

  /** {@code TPM2_PCR_Extend} of SHA-256 PCR {@code pcr} with a 32-byte {@code digest}. */
  public void pcrExtend(int pcr, byte[] digest) throws IOException {
    if (pcr < 0 || pcr > 23) throw new IllegalArgumentException("PCR index must be 0-23");
    if (digest.length != 32) throw new IllegalArgumentException("a SHA-256 extension is 32 bytes");
    exclusiveNoFlush(work -> runOk("extending PCR " + pcr, "tpm2_pcrextend", pcr + ":sha256=" + hex(digest)));
  }

  @Override
  public String toString() {
    return "TpmTools[" + tcti + "]";
  }
}
