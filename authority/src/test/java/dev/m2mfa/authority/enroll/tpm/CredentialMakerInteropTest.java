package dev.m2mfa.authority.enroll.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.testkit.ExternalTool;
import dev.m2mfa.testkit.Swtpm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interoperability of the authority's Java {@link CredentialMaker} with a real TPM: blobs it
 * makes are activated by {@code tpm2_activatecredential} on swtpm (the tool talks to the TPM
 * directly here, not through the agent's code), for the three EK kinds an agent meets:
 * swtpm's certified P-384 EK (high-range template, PolicyOR), its certified RSA-2048 EK, and
 * the standard ECC P-256 EK created from the default template. And the binding holds: a blob
 * for another AK name, or for another TPM's EK, does not activate.
 */
class CredentialMakerInteropTest {
  private static final HexFormat HEX = HexFormat.of();
  @TempDir static Path dir;
  static Swtpm tpm;
  static Swtpm other;

  @BeforeAll
  static void start() throws Exception {
    tpm = Swtpm.start(dir.resolve("a"), dir.resolve("ca"));
    other = Swtpm.start(dir.resolve("b"), dir.resolve("ca"));
  }

  @AfterAll
  static void stop() {
    if (tpm != null) tpm.close();
    if (other != null) other.close();
  }

  private static final String POLICY_B_SHA384 =
      "d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165";

  /** Creates an AK under {@code ek} (a handle or a context file) and returns its public area. */
  private static TpmPublic ak(Swtpm t, String ek, Path work) throws Exception {
    t.toolOk("tpm2_createak", "-C", ek, "-G", "ecc", "-g", "sha256", "-s", "ecdsa", "-c", work.resolve("ak.ctx").toString(),
        "-u", work.resolve("ak.pub").toString(), "-f", "tss");
    t.toolOk("tpm2_flushcontext", "-t");
    return TpmPublic.parse2b(Files.readAllBytes(work.resolve("ak.pub")));
  }

  private static TpmPublic ekPublic(Swtpm t, String ek, Path work) throws Exception {
    Path f = work.resolve("ek-" + Math.abs(ek.hashCode()) + ".pub");
    t.toolOk("tpm2_readpublic", "-c", ek, "-f", "tss", "-o", f.toString());
    return TpmPublic.parse2b(Files.readAllBytes(f));
  }

  /** Runs the EK policy and tpm2_activatecredential; returns the exit code and the secret (or null). */
  private static byte[] activate(Swtpm t, String ek, TpmPublic ekPub, Path work, byte[] blob) throws Exception {
    Path in = work.resolve("blob");
    Files.write(in, blob);
    Path session = work.resolve("s.ctx");
    String hash = ekPub.nameAlg() == TpmPublic.ALG_SHA384 ? "sha384" : "sha256";
    t.toolOk("tpm2_startauthsession", "--policy-session", "-g", hash, "-S", session.toString());
    try {
      t.toolOk("tpm2_policysecret", "-S", session.toString(), "-c", "e");
      if (ekPub.nameAlg() == TpmPublic.ALG_SHA384) {
        Path a = work.resolve("a.bin");
        Path b = work.resolve("b.bin");
        Files.write(b, HEX.parseHex(POLICY_B_SHA384));
        Path trial = work.resolve("trial.ctx");
        t.toolOk("tpm2_startauthsession", "-g", "sha384", "-S", trial.toString());
        t.toolOk("tpm2_policysecret", "-S", trial.toString(), "-c", "e", "-L", a.toString());
        t.toolOk("tpm2_flushcontext", trial.toString());
        t.toolOk("tpm2_policyor", "-S", session.toString(), "-l", "sha384:" + a + "," + b);
      }
      Path out = work.resolve("secret.out");
      Files.deleteIfExists(out);
      ExternalTool.Result r = t.tool("tpm2_activatecredential", "-c", work.resolve("ak.ctx").toString(), "-C", ek, "-i", in.toString(),
          "-o", out.toString(), "-P", "session:" + session);
      return r.exitCode() == 0 ? Files.readAllBytes(out) : null;
    } finally {
      t.tool("tpm2_flushcontext", session.toString());
      t.tool("tpm2_flushcontext", "-t");
    }
  }

  private static byte[] secret() {
    byte[] s = new byte[32];
    new SecureRandom().nextBytes(s);
    return s;
  }

  @Test
  void certifiedP384EkActivatesJavaCredential() throws Exception {
    Path work = Files.createDirectories(dir.resolve("p384"));
    TpmPublic ek = ekPublic(tpm, "0x81010016", work);
    assertEquals(TpmPublic.CURVE_P384, ek.curve());
    TpmPublic ak = ak(tpm, "0x81010016", work);
    byte[] secret = secret();
    byte[] blob = CredentialMaker.make(ek, ak.name(), secret).tpm2ToolsFile();
    assertArrayEquals(secret, activate(tpm, "0x81010016", ek, work, blob));
  }

  @Test
  void certifiedRsaEkActivatesJavaCredential() throws Exception {
    Path work = Files.createDirectories(dir.resolve("rsa"));
    TpmPublic ek = ekPublic(tpm, "0x81010001", work);
    assertTrue(ek.isRsa());
    TpmPublic ak = ak(tpm, "0x81010001", work);
    byte[] secret = secret();
    assertArrayEquals(secret, activate(tpm, "0x81010001", ek, work, CredentialMaker.make(ek, ak.name(), secret).tpm2ToolsFile()));
  }

  @Test
  void defaultTemplateP256EkActivatesJavaCredential() throws Exception {
    Path work = Files.createDirectories(dir.resolve("p256"));
    String ctx = work.resolve("ek.ctx").toString();
    tpm.toolOk("tpm2_createek", "-G", "ecc", "-c", ctx, "-u", work.resolve("ek.pub").toString(), "-f", "tss");
    tpm.toolOk("tpm2_flushcontext", "-t");
    TpmPublic ek = TpmPublic.parse2b(Files.readAllBytes(work.resolve("ek.pub")));
    assertEquals(TpmPublic.CURVE_P256, ek.curve());
    TpmPublic ak = ak(tpm, ctx, work);
    byte[] secret = secret();
    assertArrayEquals(secret, activate(tpm, ctx, ek, work, CredentialMaker.make(ek, ak.name(), secret).tpm2ToolsFile()));
  }

  @Test
  void credentialForAnotherAkNameDoesNotActivate() throws Exception {
    Path work = Files.createDirectories(dir.resolve("wrong-name"));
    TpmPublic ek = ekPublic(tpm, "0x81010016", work);
    TpmPublic ak = ak(tpm, "0x81010016", work);
    byte[] name = ak.name();
    name[name.length - 1] ^= 1;
    assertNotEquals(null, ak);
    assertEquals(null, activate(tpm, "0x81010016", ek, work, CredentialMaker.make(ek, name, secret()).tpm2ToolsFile()));
  }

  @Test
  void credentialForAnotherTpmsEkDoesNotActivate() throws Exception {
    Path work = Files.createDirectories(dir.resolve("wrong-ek"));
    TpmPublic otherEk = ekPublic(other, "0x81010016", work);
    TpmPublic ownEk = ekPublic(tpm, "0x81010016", work);
    assertNotEquals(ownEk, otherEk);
    TpmPublic ak = ak(tpm, "0x81010016", work);
    // made for the other TPM's (equally genuine) EK, presented to this TPM with its own AK
    byte[] blob = CredentialMaker.make(otherEk, ak.name(), secret()).tpm2ToolsFile();
    assertEquals(null, activate(tpm, "0x81010016", ownEk, work, blob));
  }
}
