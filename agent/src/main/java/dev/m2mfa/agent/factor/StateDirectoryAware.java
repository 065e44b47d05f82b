package dev.m2mfa.agent.factor;

import java.nio.file.Path;

/**
 * Implemented by a {@link dev.m2mfa.api.factor.FactorProver} that keeps state or reads
 * configuration in the agent's state directory (posture: its options in {@code agent.conf},
 * its hash cache and the reports it sent). The agent calls {@link #attach} once, right after
 * loading the prover through {@link java.util.ServiceLoader}.
 */
public interface StateDirectoryAware {
  void attach(Path agentDirectory);
}
