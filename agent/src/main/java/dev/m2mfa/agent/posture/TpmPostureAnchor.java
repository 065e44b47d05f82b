package dev.m2mfa.agent.posture;

import dev.m2mfa.agent.keys.tpm.TpmAttestor;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.api.posture.AnchorEvidence;
import dev.m2mfa.api.posture.ReportChain;
import dev.m2mfa.api.tpm.MalformedTpmDataException;
import dev.m2mfa.api.tpm.TpmAttest;
import java.io.IOException;
import java.io.Reader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Anchors posture reports in the TPM the agent enrolled with: before a new report is sent its
 * digest is extended into a SHA-256 PCR, and the PCR is quoted by the attestation key that
 * enrollment made persistent ({@code tpm_ak_handle} in agent.conf, {@link TpmAttestor#persistAk})
 * with the login nonce as qualifying data. The evidence shape is {@link AnchorEvidence}.
 *
 * <p>Enabled only when {@code agent.conf} says {@code posture.anchor=tpm}; options
 * {@code posture.anchor_pcr} (default {@value AnchorEvidence#DEFAULT_PCR}) and the enrollment's
 * {@code key.tcti} (written by TPM enrollment). Without that line {@link #anchor} returns null and reports go unanchored.
 *
 * <p>The log ({@code posture/anchor-log}, one hex digest per line, oldest first) lists every
 * digest this agent extended since the PCR was last reset. It is written <em>before</em> the
 * extension (write-ahead): a crash between the two leaves one logged digest the PCR lacks,
 * which the next call notices (the log without its last line replays to the PCR) and drops.
 * A PCR at its reset value with a non-empty log means a reboot (or a reset of a resettable PCR):
 * a new log starts. Any other disagreement means something else extended the PCR; the agent
 * then refuses to anchor (the authority could not replay the chain) instead of guessing.
 *
 * <p>A report whose digest is already the last one extended is not extended again (an
 * unchanged machine does not grow the log), but is quoted afresh with the new nonce.
 */
public final class TpmPostureAnchor implements PostureAnchor {
  private static final String LOG_FILE = "anchor-log";

  private volatile Path dir;
  private volatile TpmTools tpm;
  private volatile int pcr = AnchorEvidence.DEFAULT_PCR;
  /** 0 when agent.conf names no attestation key. */
  private volatile int akHandle;
  private volatile String configError;

  public TpmPostureAnchor() {}

  @Override
  public void attach(Path agentDirectory) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(agentDirectory.resolve("agent.conf"))) {
      p.load(r);
    } catch (IOException e) {
      return; // no configuration: not enabled
    }
    String mode = p.getProperty("posture.anchor", "none").strip();
    if (mode.equals("none") || mode.isEmpty()) return;
    if (!mode.equals("tpm")) {
      configError = "posture.anchor must be tpm or none";
      dir = agentDirectory;
      return;
    }
    try {
      int index = Integer.parseInt(p.getProperty("posture.anchor_pcr", String.valueOf(AnchorEvidence.DEFAULT_PCR)).strip());
      if (!AnchorEvidence.validPcr(index)) throw new NumberFormatException();
      pcr = index;
      tpm = TpmTools.shared(p.getProperty("key.tcti", p.getProperty("tpm_tcti", TpmTools.DEVICE_TCTI)).strip());
      String ak = p.getProperty("tpm_ak_handle", "").strip();
      if (!ak.isEmpty()) {
        int h = ak.matches("0x[0-9a-fA-F]{8}") ? Integer.parseUnsignedInt(ak.substring(2), 16) : 0;
        if (h < TpmAttestor.AK_HANDLE_FIRST || h > TpmAttestor.AK_HANDLE_LAST) {
          throw new IllegalArgumentException("tpm_ak_handle must be a handle from " + String.format("0x%08x", TpmAttestor.AK_HANDLE_FIRST)
              + " to " + String.format("0x%08x", TpmAttestor.AK_HANDLE_LAST));
        }
        akHandle = h;
      }
    } catch (NumberFormatException e) {
      configError = "posture.anchor_pcr must be a PCR index from 0 to 23";
    } catch (IllegalArgumentException e) {
      configError = e.getMessage().startsWith("tpm_ak_handle") ? e.getMessage() : "key.tcti is not a valid TCTI string";
    }
    dir = agentDirectory;
  }

  @Override
  public Map<String, Object> anchor(byte[] reportDigest, byte[] nonce) throws IOException {
    Path d = dir;
    if (d == null) return null;
    if (configError != null) throw new IOException("posture anchor: " + configError);
    if (reportDigest.length != ReportChain.DIGEST_BYTES) throw new IllegalArgumentException("a report digest is 32 bytes");
    Path postureDir = d.resolve("posture");
    Files.createDirectories(postureDir);
    synchronized (this) {
      try (FileChannel lockFile = FileChannel.open(postureDir.resolve(LOG_FILE + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock ignored = lockFile.lock()) {
        return anchorLocked(postureDir, reportDigest, nonce);
      }
    }
  }

  private Map<String, Object> anchorLocked(Path postureDir, byte[] reportDigest, byte[] nonce) throws IOException {
    int ak = akHandle;
    if (ak == 0) throw new IOException("posture.anchor=tpm, but agent.conf names no tpm_ak_handle (enroll with the TPM first)");
    Path logFile = postureDir.resolve(LOG_FILE);
    List<byte[]> log = readLog(logFile);
    byte[] current = tpm.pcrRead(pcr);
    if (!ReportChain.replaysTo(log, current)) {
      if (!log.isEmpty() && ReportChain.replaysTo(log.subList(0, log.size() - 1), current)) {
        log = new ArrayList<>(log.subList(0, log.size() - 1)); // logged, then the extension did not happen
      } else if (MessageDigest.isEqual(current, ReportChain.resetValue())) {
        log = new ArrayList<>(); // the PCR was reset (a reboot): a new chain
      } else {
        throw new IOException("PCR " + pcr + " holds extensions this agent did not log; its report chain cannot be replayed"
            + " (choose another posture.anchor_pcr)");
      }
      writeLog(logFile, log);
    }
    if (log.isEmpty() || !MessageDigest.isEqual(log.getLast(), reportDigest)) {
      if (log.size() >= ReportChain.MAX_LOG) {
        throw new IOException("more than " + ReportChain.MAX_LOG + " posture reports since the PCR was reset; the authority would refuse the chain");
      }
      log.add(reportDigest.clone());
      writeLog(logFile, log); // write-ahead, see the class comment
      tpm.pcrExtend(pcr, reportDigest);
    }
    TpmAttestor.Attestation q = TpmAttestor.quotePcr(tpm, ak, pcr, AnchorEvidence.qualifyingData(nonce));
    TpmAttest attest;
    try {
      attest = TpmAttest.parse(q.attest());
    } catch (MalformedTpmDataException e) {
      throw new IOException("the TPM returned an unreadable quote");
    }
    byte[] value = ReportChain.replay(log);
    if (!MessageDigest.isEqual(attest.pcrDigest(), sha256(value))) {
      throw new IOException("PCR " + pcr + " changed while it was quoted (another program extends it?)");
    }
    HexFormat hex = HexFormat.of();
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("type", AnchorEvidence.TYPE);
    a.put("pcr", pcr);
    a.put("log", log.stream().map(hex::formatHex).toList());
    a.put("pcr_value", hex.formatHex(value));
    a.put("quote", Base64.getUrlEncoder().withoutPadding().encodeToString(q.attest()));
    a.put("signature", Base64.getUrlEncoder().withoutPadding().encodeToString(q.signature()));
    a.put("reset_count", Integer.toUnsignedLong(attest.resetCount()));
    return a;
  }

  private static List<byte[]> readLog(Path logFile) throws IOException {
    List<byte[]> log = new ArrayList<>();
    if (!Files.exists(logFile)) return log;
    if (Files.size(logFile) > (long) (ReportChain.MAX_LOG + 1) * 65) throw new IOException("posture anchor log is larger than its bound");
    for (String line : Files.readAllLines(logFile, StandardCharsets.US_ASCII)) {
      if (line.isBlank()) continue;
      try {
        log.add(ReportChain.parseDigest(line.strip()));
      } catch (RuntimeException e) {
        throw new IOException("posture anchor log is corrupt");
      }
    }
    return log;
  }

  private static void writeLog(Path logFile, List<byte[]> log) throws IOException {
    StringBuilder sb = new StringBuilder(log.size() * 65);
    for (byte[] d : log) sb.append(HexFormat.of().formatHex(d)).append('\n');
    Path tmp = logFile.resolveSibling(LOG_FILE + ".tmp");
    Files.writeString(tmp, sb, StandardCharsets.US_ASCII);
    try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      c.force(true);
    }
    Files.move(tmp, logFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static byte[] sha256(byte[] b) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(b);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "TpmPostureAnchor[pcr " + pcr + (dir == null ? ", off]" : "]");
  }
}
