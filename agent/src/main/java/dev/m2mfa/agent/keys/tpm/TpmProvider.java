package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.agent.keys.KeyConfig;
import dev.m2mfa.agent.keys.KeyContext;
import dev.m2mfa.agent.keys.KeyProvider;
import dev.m2mfa.agent.keys.MachineSigner;
import java.io.IOException;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Provider {@code tpm}: the identity key is a TPM 2.0 login key ({@link TpmKeyProvider}),
 * persisted at a handle and backed by blobs in the state directory that only this TPM can
 * load. Options ({@code key.<option>} in agent.conf): {@code tcti} (default
 * {@code device:/dev/tpmrm0}, the kernel's resource manager; {@code swtpm:host=...,port=...}
 * in tests) and {@code handle} (default {@code 0x81000201}, owner persistent range).
 *
 * <p>Design: this class only maps the SPI onto {@link TpmKeyProvider}'s create/open/destroy
 * and shares one {@link TpmTools} per TCTI so keys on one TPM serialize their commands.
 * {@link #generate} makes a key the authority has no reason to believe is TPM-resident;
 * enrollment therefore goes through {@link TpmEnrollment} (credential activation), which
 * {@code Agent.enroll} does for {@code key_provider=tpm}. Opening is generic:
 * {@code Agent.open} finds this provider by name.
 */
public final class TpmProvider implements KeyProvider {
  public static final String NAME = "tpm";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public MachineSigner generate(KeyContext context) throws IOException {
    if (Files.exists(context.stateDir().resolve(TpmKeyProvider.PUBLIC_FILE))) {
      throw new KeyExistsException("a TPM login key already exists in this state directory (" + TpmKeyProvider.PUBLIC_FILE + ")");
    }
    return TpmKeyProvider.create(tools(context), context.stateDir(), handle(context));
  }

  @Override
  public TpmKeyProvider open(KeyContext context) throws IOException {
    return TpmKeyProvider.open(tools(context), context.stateDir(), handle(context));
  }

  @Override
  public void discard(KeyContext context) throws IOException {
    TpmKeyProvider.destroy(tools(context), context.stateDir(), handle(context));
  }

  /** The agent.conf key configuration for a login key at {@code handle} in the TPM at {@code tcti}. */
  public static KeyConfig config(String tcti, int handle) {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("tcti", TpmTools.of(tcti).tcti());
    o.put("handle", TpmTools.handle(handle));
    return KeyConfig.of(NAME, o);
  }

  /** The TPM the options name ({@code tcti}), shared in this process. */
  static TpmTools tools(KeyContext context) throws IOException {
    try {
      return TpmTools.shared(context.option("tcti", TpmTools.DEVICE_TCTI).strip());
    } catch (IllegalArgumentException e) {
      throw new IOException("key.tcti is not a valid TCTI string (e.g. device:/dev/tpmrm0)");
    }
  }

  /** The persistent handle the options name ({@code handle}, {@code 0x81000000}-{@code 0x8100FFFF}). */
  static int handle(KeyContext context) throws IOException {
    String h = context.option("handle", TpmTools.handle(TpmKeyProvider.DEFAULT_HANDLE)).strip();
    if (!h.matches("0x[0-9a-fA-F]{8}")) throw new IOException("key.handle must look like 0x81000201");
    int handle = Integer.parseUnsignedInt(h.substring(2), 16);
    if (Integer.compareUnsigned(handle, 0x81000000) < 0 || Integer.compareUnsigned(handle, 0x8100FFFF) > 0) {
      throw new IOException("key.handle must be in the owner persistent range 0x81000000-0x8100FFFF");
    }
    return handle;
  }
}
