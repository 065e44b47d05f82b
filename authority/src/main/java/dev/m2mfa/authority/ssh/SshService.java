package dev.m2mfa.authority.ssh;

import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.policy.Policy;
import dev.m2mfa.authority.revocation.RevocationHub;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.SshCertificateRecord;
import dev.m2mfa.authority.store.Store;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.net.InetAddress;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.OpenSshCertificate;
import org.apache.sshd.common.config.keys.PublicKeyEntry;

/**
 * Issues OpenSSH certificates to machines that logged in, and keeps the KRL.
 *
 * <h2>Issuing</h2>
 * The caller was authenticated by {@link SshRequestAuthenticator} (token from a full
 * multi-factor login, DPoP). In one store transaction: the machine is re-read and must be
 * active; {@link SshGrantPolicy} decides principals, validity and options, or refuses
 * ({@link SshGrantPolicy.NotGranted}, e.g. the token's acr below the class's ssh
 * {@code min_level}: then nothing is signed or recorded); a random non-zero
 * 63-bit serial that was never used is drawn; the certificate is signed and recorded with the
 * latest revocation sequence number. Then {@code ssh.user_certificate} /
 * {@code ssh.host_certificate} is made durable in the audit log before the certificate is
 * returned. Key id: {@code m2mfa:<spiffe id>:<serial>}, so sshd's log names the machine.
 *
 * <h2>Revocation</h2>
 * A certificate is revoked when its machine has a revoke event newer than the certificate
 * (see {@link Store.SshCertificates#revokedUnexpired}); reinstating the machine does not revive
 * it. Expired certificates leave the list. The KRL is rebuilt when the revocation sequence
 * moves or after a minute (to drop expired serials), and is served as bytes; clients re-fetch
 * it on every event of the revocation stream. {@code krl_version} is the revocation sequence.
 */
public final class SshService {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Duration KRL_MAX_AGE = Duration.ofMinutes(1);
  /** A host asks for a handful of host keys (ed25519, ecdsa, rsa), not more. */
  public static final int MAX_HOST_KEYS = 8;

  private final Store store;
  private final AuditLog audit;
  private final RevocationHub hub;
  private final SshCertificateAuthority ca;
  private final SshGrantPolicy policy;
  private final SshRequestAuthenticator authenticator;
  private final Object krlLock = new Object();
  private byte[] krl;
  private long krlSeq = -1;
  private Instant krlBuilt = Instant.EPOCH;

  public SshService(Store store, AuditLog audit, RevocationHub hub, SshCertificateAuthority ca, SshGrantPolicy policy,
      SshRequestAuthenticator authenticator) {
    this.authenticator = authenticator;
    this.store = store;
    this.audit = audit;
    this.hub = hub;
    this.ca = ca;
    this.policy = policy;
  }

  /** Creates the SSH CA keys of a new authority directory (algorithm from its authority.conf). */
  public static void createCa(Path authorityDir, char[] passphrase) throws IOException {
    SshCertificateAuthority.openOrCreate(authorityDir.resolve("ca"), SshConfig.load(authorityDir.resolve("authority.conf")).caAlgorithm(),
        passphrase);
  }

  /**
   * Opens (or, for directories made before the SSH CA existed, creates) the SSH CA keys on
   * their own thread: each key's PBKDF2 takes a noticeable part of start-up.
   */
  public static CompletableFuture<SshCertificateAuthority> openCaAsync(Path authorityDir, char[] passphrase) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return SshCertificateAuthority.openOrCreate(authorityDir.resolve("ca"),
            SshConfig.load(authorityDir.resolve("authority.conf")).caAlgorithm(), passphrase);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, r -> Thread.ofPlatform().name("open-ssh-ca").start(r));
  }

  /**
   * The service for an opened authority; {@code caFuture} from {@link #openCaAsync}. Grants
   * come from {@code policies} (read per certificate, so a reload applies to the next one)
   * for classes with an {@code ssh:} block, else from authority.conf
   * ({@link SshGrantPolicy#fromPolicy}).
   */
  public static SshService open(Path authorityDir, CompletableFuture<SshCertificateAuthority> caFuture, Store store, AuditLog audit,
      RevocationHub hub, SshRequestAuthenticator authenticator, Supplier<Policy> policies) throws IOException {
    SshConfig config = SshConfig.load(authorityDir.resolve("authority.conf"));
    SshCertificateAuthority ca;
    try {
      ca = caFuture.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof UncheckedIOException u) throw u.getCause();
      if (e.getCause() instanceof RuntimeException r) throw r; // e.g. a bad ssh.* option: its message names the key
      throw e;
    }
    return new SshService(store, audit, hub, ca, SshGrantPolicy.fromPolicy(policies, config), authenticator);
  }

  public SshRequestAuthenticator authenticator() {
    return authenticator;
  }

  public SshCertificateAuthority ca() {
    return ca;
  }

  /** An issued certificate: the {@code -cert.pub} line and what it says. */
  public record Issued(String certificateLine, long serial, String keyId, List<String> principals, Instant validAfter,
      Instant validBefore, Map<String, String> criticalOptions) {}

  /** The machine was revoked between authentication and issuance. */
  public static final class MachineInactive extends Exception {
    MachineInactive() {
      super("machine not active", null, false, false);
    }
  }

  /** @param acr the {@code acr} of the caller's verified token (the policy may demand a minimum) */
  public Issued issueUser(MachineRecord caller, PublicKey key, InetAddress source, String tokenJti, Optional<String> acr)
      throws MachineInactive, SshGrantPolicy.NotGranted {
    return issue(SshGrantPolicy.Kind.USER, caller, key, source, tokenJti, acr);
  }

  public Issued issueHost(MachineRecord caller, PublicKey key, InetAddress source, String tokenJti, Optional<String> acr)
      throws MachineInactive, SshGrantPolicy.NotGranted {
    return issue(SshGrantPolicy.Kind.HOST, caller, key, source, tokenJti, acr);
  }

  private Issued issue(SshGrantPolicy.Kind kind, MachineRecord caller, PublicKey key, InetAddress source, String tokenJti,
      Optional<String> acr) throws MachineInactive, SshGrantPolicy.NotGranted {
    Instant now = Instant.now();
    String fingerprint = KeyUtils.getFingerPrint(key);
    SshGrantPolicy.NotGranted[] refused = new SshGrantPolicy.NotGranted[1];
    Issued issued = store.transaction(() -> {
      MachineRecord m = store.machines().find(caller.name()).filter(MachineRecord::active).orElse(null);
      if (m == null) return null;
      SshGrantPolicy.Grant g;
      try {
        g = policy.decide(kind, m, acr, source, now);
      } catch (SshGrantPolicy.NotGranted e) {
        refused[0] = e; // nothing signed, nothing recorded
        return null;
      }
      long serial = freshSerial();
      String keyId = "m2mfa:" + m.spiffeId() + ":" + Long.toUnsignedString(serial);
      OpenSshCertificate cert = kind == SshGrantPolicy.Kind.USER
          ? ca.signUser(key, serial, keyId, g) : ca.signHost(key, serial, keyId, g);
      store.sshCertificates().insert(new SshCertificateRecord(serial, m.name(),
          kind == SshGrantPolicy.Kind.USER ? SshCertificateRecord.USER : SshCertificateRecord.HOST, keyId, fingerprint,
          g.validAfter().toEpochMilli(), g.validBefore().toEpochMilli(), now.toEpochMilli(), store.revocations().latestSeq()));
      return new Issued(PublicKeyEntry.toString(cert), serial, keyId, g.principals(), g.validAfter(), g.validBefore(),
          g.criticalOptions());
    });
    if (refused[0] != null) throw refused[0];
    if (issued == null) throw new MachineInactive();
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("serial", Long.toUnsignedString(issued.serial()));
    detail.put("key_id", issued.keyId());
    detail.put("key_fingerprint", fingerprint);
    detail.put("principals", issued.principals());
    detail.put("valid_before", issued.validBefore().getEpochSecond());
    detail.put("critical_options", issued.criticalOptions());
    detail.put("source", source.getHostAddress());
    detail.put("token_jti", tokenJti);
    audit.appendAndWait(kind == SshGrantPolicy.Kind.USER ? "ssh.user_certificate" : "ssh.host_certificate", caller.name(), detail);
    return issued;
  }

  private long freshSerial() {
    while (true) {
      long s = RANDOM.nextLong() >>> 1;
      if (s != 0 && !store.sshCertificates().exists(s)) return s;
    }
  }

  /** The current KRL (OpenSSH binary format). */
  public byte[] krl() {
    long seq = hub.latestSeq();
    Instant now = Instant.now();
    synchronized (krlLock) {
      if (krl == null || seq != krlSeq || now.isAfter(krlBuilt.plus(KRL_MAX_AGE))) {
        List<Long> user = new ArrayList<>();
        List<Long> host = new ArrayList<>();
        for (SshCertificateRecord r : store.sshCertificates().revokedUnexpired(now.toEpochMilli())) {
          (SshCertificateRecord.HOST.equals(r.kind()) ? host : user).add(r.serial());
        }
        krl = new KrlWriter().revoke(ca.userCaKey(), user).revoke(ca.hostCaKey(), host)
            .encode(seq, now, "m2mfa revoked certificates");
        krlSeq = seq;
        krlBuilt = now;
      }
      return krl.clone();
    }
  }

  /**
   * Parses an untrusted OpenSSH public key line ({@code type base64 [comment]}), at most
   * {@code 8 KiB}. Accepted: Ed25519, ECDSA P-256/384/521, RSA of at least 2048 bits. Anything
   * else (certificates, DSA, security-key types, a blob whose inner type differs from the
   * declared one) is {@link BadKey}.
   */
  public static PublicKey parseSubjectKey(String untrustedLine) throws BadKey {
    if (untrustedLine == null || untrustedLine.isEmpty() || untrustedLine.length() > 8 * 1024) throw new BadKey("size");
    String line = untrustedLine.strip();
    if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) throw new BadKey("one line");
    String[] parts = line.split(" ", 3);
    if (parts.length < 2) throw new BadKey("format");
    String type = parts[0];
    if (!List.of("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa").contains(type)) {
      throw new BadKey("unsupported type");
    }
    PublicKey k;
    try {
      k = SshCertificateAuthority.parsePublic(type + " " + parts[1]);
    } catch (IOException | RuntimeException e) {
      throw new BadKey("format");
    }
    if (!type.equals(KeyUtils.getKeyType(k))) throw new BadKey("type mismatch");
    if (k instanceof java.security.interfaces.RSAPublicKey rsa && rsa.getModulus().bitLength() < 2048) throw new BadKey("rsa too small");
    return k;
  }

  /** An SSH public key the authority will not certify. */
  public static final class BadKey extends Exception {
    BadKey(String why) {
      super(why, null, false, false);
    }
  }
}
