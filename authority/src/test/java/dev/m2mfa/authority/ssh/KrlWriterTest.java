package dev.m2mfa.authority.ssh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.testkit.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hand-written KRL encoder, judged by OpenSSH's own reader ({@code ssh-keygen -Q}). */
class KrlWriterTest {
  static final String KEYGEN = "/usr/bin/ssh-keygen";
  @TempDir Path tmp;
  KeyPair userCa;
  KeyPair hostCa;
  KeyPair subject;

  @BeforeEach
  void keys() {
    ExternalTool.require("openssh-client", KEYGEN);
    userCa = SshCertificateAuthority.generate(SshConfig.ED25519);
    hostCa = SshCertificateAuthority.generate(SshConfig.ECDSA_P256);
    subject = SshCertificateAuthority.generate(SshConfig.ED25519);
  }

  Path cert(KeyPair ca, long serial, boolean host) throws Exception {
    Instant now = Instant.now();
    var grant = new SshGrantPolicy.Grant(List.of("p"), now.minusSeconds(60), now.plus(Duration.ofMinutes(10)), new TreeMap<>(), new TreeMap<>(Map.of()));
    var b = host ? org.apache.sshd.certificate.OpenSshCertificateBuilder.hostCertificate()
        : org.apache.sshd.certificate.OpenSshCertificateBuilder.userCertificate();
    var c = b.publicKey(subject.getPublic()).serial(serial).id("id-" + Long.toUnsignedString(serial)).principals(grant.principals())
        .validAfter(grant.validAfter()).validBefore(grant.validBefore()).sign(ca);
    Path f = tmp.resolve((host ? "h" : "u") + Long.toUnsignedString(serial) + "-cert.pub");
    Files.writeString(f, PublicKeyEntry.toString(c) + "\n");
    return f;
  }

  ExternalTool.Result query(byte[] krl, Path cert) throws Exception {
    Path f = tmp.resolve("krl");
    Files.write(f, krl);
    return ExternalTool.run(30, List.of(KEYGEN, "-Q", "-f", f.toString(), cert.toString()));
  }

  @Test
  void revokesExactlyTheListedSerialsOfEachCa() throws Exception {
    long big = 0xF000_0000_0000_0001L; // above 2^63: ordered unsigned, as OpenSSH reads it
    byte[] krl = new KrlWriter().revoke(userCa.getPublic(), List.of(big, 42L, 7L)).revoke(hostCa.getPublic(), List.of(9L))
        .encode(3, Instant.now(), "test");
    for (long s : List.of(7L, 42L, big)) {
      ExternalTool.Result r = query(krl, cert(userCa, s, false));
      assertThat(r.output()).as("serial " + s).contains("REVOKED");
      assertThat(r.exitCode()).isNotZero();
    }
    ExternalTool.Result notListed = query(krl, cert(userCa, 8, false));
    assertThat(notListed.output()).contains(": ok");
    assertThat(notListed.exitCode()).isZero();
    // serial 9 is revoked for the host CA only, not for the user CA
    assertThat(query(krl, cert(hostCa, 9, true)).output()).contains("REVOKED");
    assertThat(query(krl, cert(userCa, 9, false)).output()).contains(": ok");
    // serial 42 of another CA is a different certificate
    assertThat(query(krl, cert(hostCa, 42, true)).output()).contains(": ok");
  }

  @Test
  void emptyKrlIsValidAndRevokesNothing() throws Exception {
    byte[] krl = new KrlWriter().revoke(userCa.getPublic(), List.of()).encode(0, Instant.now(), "");
    ExternalTool.Result r = query(krl, cert(userCa, 1, false));
    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(r.output()).contains(": ok");
  }

  @Test
  void krlListingShowsVersionAndSerials() throws Exception {
    byte[] krl = new KrlWriter().revoke(userCa.getPublic(), List.of(5L, 9L)).encode(17, Instant.now(), "m2mfa test");
    Path f = tmp.resolve("krl");
    Files.write(f, krl);
    ExternalTool.Result r = ExternalTool.run(30, List.of(KEYGEN, "-Q", "-l", "-f", f.toString(), cert(userCa, 1, false).toString()));
    assertThat(r.output()).contains("# KRL version 17").contains("m2mfa test").contains("serial: 5").contains("serial: 9");
  }

  @Test
  void serialZeroIsRefused() {
    assertThatThrownBy(() -> new KrlWriter().revoke(userCa.getPublic(), List.of(0L))).isInstanceOf(IllegalArgumentException.class);
  }
}
