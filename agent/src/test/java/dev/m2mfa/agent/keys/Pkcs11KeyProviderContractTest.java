package dev.m2mfa.agent.keys;

import dev.m2mfa.testkit.SoftHsm;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/** The pkcs11 provider under the contract, against a SoftHSM2 token; each test uses its own key label. */
class Pkcs11KeyProviderContractTest extends KeyProviderContract {
  private static final AtomicInteger N = new AtomicInteger();
  private String label;

  @Override
  KeyProvider provider() {
    return new Pkcs11KeyProvider();
  }

  @Override
  KeyContext context(Path stateDir) throws Exception {
    if (label == null) label = "contract-" + ProcessHandle.current().pid() + "-" + N.incrementAndGet();
    Map<String, String> o = new LinkedHashMap<>(SoftHsm.keyOptions("m2mfa-a", stateDir.resolveSibling(stateDir.getFileName() + "-pins")));
    o.put("key_label", label);
    return KeyContext.of(stateDir, o, KeyContext.Secrets.none());
  }

  @Override
  List<String> secretsInContext() {
    return List.of(SoftHsm.USER_PIN);
  }

  @Override
  boolean keyBytesStayInProvider() {
    return true;
  }
}
