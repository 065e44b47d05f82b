package dev.m2mfa.agent.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sealed provider's refusals, each with its message, its re-lock, and k-of-n shares. */
class SealedKeyTest {
  static final String PASS = "operator passphrase 1";
  @TempDir Path dir;
  final MutableClock clock = new MutableClock();

  KeyContext ctx(Map<String, String> extra) {
    Map<String, String> o = new HashMap<>(SealedKeyProviderContractTest.FAST);
    o.putAll(extra);
    return new KeyContext(dir, o, KeyContext.Secrets.fixed(PASS.toCharArray()), clock);
  }

  SealedKey open() throws Exception {
    return (SealedKey) new SealedKeyProvider().open(ctx(Map.of()));
  }

  Path file() {
    return dir.resolve(SealedKeyProvider.FILE);
  }

  static boolean signsVerifiably(SealedKey k) throws Exception {
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(k.publicKey());
    v.update(new byte[] {42});
    return v.verify(k.sign(new byte[] {42}));
  }

  @Test
  void opensLockedAndTheRightPassphraseUnlocks() throws Exception {
    new SealedKeyProvider().generate(ctx(Map.of()));
    SealedKey k = open();
    assertThat(k.locked()).isTrue();
    assertThatThrownBy(() -> k.sign(new byte[] {1})).isInstanceOf(KeyLockedException.class).hasMessageContaining("m2mfa agent unlock");
    k.unlockWithPassphrase(PASS.toCharArray());
    assertThat(signsVerifiably(k)).isTrue();
  }

  @Test
  void aWrongPassphraseIsRefused() throws Exception {
    new SealedKeyProvider().generate(ctx(Map.of()));
    SealedKey k = open();
    assertThatThrownBy(() -> k.unlockWithPassphrase("operator passphrase 2".toCharArray()))
        .hasMessage("the passphrase cannot unlock this key (or the file's key-derivation parameters were modified)");
    assertThat(k.locked()).isTrue();
  }

  @Test
  void aTamperedHeaderIsRefused() throws Exception {
    new SealedKeyProvider().generate(ctx(Map.of()));
    byte[] good = Files.readAllBytes(file());
    // a byte of the public key (authenticated as GCM associated data)
    byte[] pub = good.clone();
    pub[8 + 1 + 1 + 4 + 4 + 1 + 16 + 3 + 2 + 40] ^= 1;
    Files.write(file(), pub);
    SealedKey k = open();
    assertThatThrownBy(() -> k.unlockWithPassphrase(PASS.toCharArray()))
        .hasMessage("the sealed key file was modified: its header or ciphertext fails authentication");
    // the format version
    byte[] version = good.clone();
    version[8] = 2;
    Files.write(file(), version);
    assertThatThrownBy(this::open).hasMessageContaining("format version 2 is not supported");
    // Argon2 memory pushed past the bound: refused before any allocation
    byte[] memory = good.clone();
    memory[10] = 0x7f;
    Files.write(file(), memory);
    assertThatThrownBy(this::open).hasMessageContaining("out-of-range Argon2 parameters");
    // Argon2 iterations changed within bounds: the derived key differs, the check says so
    byte[] iterations = good.clone();
    iterations[17] ^= 2;
    Files.write(file(), iterations);
    SealedKey k2 = open();
    assertThatThrownBy(() -> k2.unlockWithPassphrase(PASS.toCharArray())).hasMessageContaining("key-derivation parameters were modified");
  }

  @Test
  void aTamperedCiphertextIsRefused() throws Exception {
    new SealedKeyProvider().generate(ctx(Map.of()));
    byte[] b = Files.readAllBytes(file());
    b[b.length - 20] ^= 0x40;
    Files.write(file(), b);
    SealedKey k = open();
    assertThatThrownBy(() -> k.unlockWithPassphrase(PASS.toCharArray()))
        .hasMessage("the sealed key file was modified: its header or ciphertext fails authentication");
    assertThat(k.locked()).isTrue();
  }

  @Test
  void anyTwoOfThreeSharesUnlockAndOneDoesNot() throws Exception {
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx(Map.of()));
    List<String> shares = SealedKeyProvider.resealToShares(generated, ctx(Map.of()), 2, 3);
    assertThat(shares).hasSize(3).allMatch(s -> s.startsWith("m2mfa-share-v1.2of3."));
    assertThat(Files.readString(file(), java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain(shares.get(0).split("\\.")[4]);
    for (List<Integer> subset : List.of(List.of(0, 1), List.of(0, 2), List.of(2, 1), List.of(0, 1, 2))) {
      SealedKey k = open();
      k.unlockWithShares(subset.stream().map(shares::get).toList());
      assertThat(signsVerifiably(k)).as("shares " + subset).isTrue();
      assertThat(k.publicKey()).isEqualTo(generated.publicKey());
    }
    SealedKey k = open();
    assertThatThrownBy(() -> k.unlockWithShares(List.of(shares.get(1)))).hasMessage("2 distinct shares are needed to unlock this key, 1 given");
    assertThatThrownBy(() -> k.unlockWithShares(List.of(shares.get(1), shares.get(1)))).hasMessage("2 distinct shares are needed to unlock this key, 1 given");
    assertThatThrownBy(() -> k.unlockWithPassphrase(PASS.toCharArray())).hasMessageContaining("sealed to 2 of 3 shares");
    assertThat(k.locked()).isTrue();
  }

  @Test
  void kMinusOneRealSharesPlusAForgedOneDoNotUnlock() throws Exception {
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx(Map.of()));
    List<String> shares = SealedKeyProvider.resealToShares(generated, ctx(Map.of()), 3, 5);
    String[] parts = shares.get(0).split("\\.");
    // a well-formed share (right seal id, valid checksum) that is not on the polynomial
    String forged = KeyShares.encode(3, 5, 4, parts[3], new byte[32]);
    SealedKey k = open();
    assertThat(k.offerShare(shares.get(0)).have()).isEqualTo(1);
    assertThat(k.offerShare(shares.get(1)).have()).isEqualTo(2);
    assertThatThrownBy(() -> k.offerShare(forged)).hasMessageContaining("these 3 shares cannot unlock this key");
    assertThat(k.locked()).isTrue();
    // the pending shares were dropped: the next operator starts from zero
    assertThat(k.offerShare(shares.get(2)).have()).isEqualTo(1);
  }

  @Test
  void sharesOfAnotherSealAndMistypedSharesAreNamed() throws Exception {
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx(Map.of()));
    List<String> old = SealedKeyProvider.resealToShares(generated, ctx(Map.of()), 2, 3);
    List<String> fresh = SealedKeyProvider.resealToShares(generated, ctx(Map.of()), 2, 3);
    SealedKey k = open();
    assertThatThrownBy(() -> k.offerShare(old.get(0))).hasMessageContaining("belongs to another seal");
    String typo = fresh.get(0).substring(0, 40) + (fresh.get(0).charAt(40) == 'A' ? 'B' : 'A') + fresh.get(0).substring(41);
    assertThatThrownBy(() -> k.offerShare(typo)).hasMessageContaining("mistyped");
    assertThatThrownBy(() -> k.offerShare("hunter2")).hasMessageContaining("not an m2mfa share");
    k.unlockWithShares(fresh.subList(1, 3));
    assertThat(signsVerifiably(k)).isTrue();
  }

  @Test
  void itRelocksAfterTheIntervalOnTheInjectedClock() throws Exception {
    new SealedKeyProvider().generate(ctx(Map.of()));
    SealedKey k = (SealedKey) new SealedKeyProvider().open(ctx(Map.of("relock_after", "1h")));
    k.unlockWithPassphrase(PASS.toCharArray());
    clock.advance(Duration.ofMinutes(59));
    assertThat(signsVerifiably(k)).isTrue();
    clock.advance(Duration.ofMinutes(1));
    assertThatThrownBy(() -> k.sign(new byte[] {1})).isInstanceOf(KeyLockedException.class).hasMessageContaining("re-locked 3600 s after");
    assertThat(k.locked()).isTrue();
    k.unlockWithPassphrase(PASS.toCharArray());
    assertThat(signsVerifiably(k)).isTrue();
  }

  @Test
  void theDefaultParametersAreArgon2id64MiBThreePassesOneLane() throws Exception {
    Map<String, String> none = Map.of();
    new SealedKeyProvider().generate(new KeyContext(dir, none, KeyContext.Secrets.fixed(PASS.toCharArray()), clock));
    SealedKeyFile f = SealedKeyFile.decode(Files.readAllBytes(file()));
    assertThat(f.memoryKib()).isEqualTo(65536);
    assertThat(f.iterations()).isEqualTo(3);
    assertThat(f.parallelism()).isEqualTo(1);
    assertThat(f.toString()).doesNotContain(PASS);
  }

  @Test
  void badOptionsAreRefusedWithASentence() {
    assertThatThrownBy(() -> SealedKeyProvider.relockAfter("soon")).hasMessageContaining("8h, 30m, 3600s or PT8H");
    assertThatThrownBy(() -> SealedKeyProvider.kdf(ctx(Map.of("argon2_memory_kib", "64")))).hasMessageContaining("8 MiB to 1 GiB");
    assertThat(SealedKeyProvider.relockAfter("30m")).isEqualTo(Duration.ofMinutes(30));
  }
}
