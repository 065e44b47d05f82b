package dev.m2mfa.agent.factor.key;

import dev.m2mfa.api.factor.FactorProver;
import java.util.Map;

/** Factor {@code key}: the proof is the agent's signature over the whole transcript, made by the agent itself. */
public final class KeyFactorProver implements FactorProver {
  @Override
  public String name() {
    return "key";
  }

  @Override
  public Map<String, Object> prove(String machineName, Map<String, Object> challenge) {
    return Map.of();
  }
}
