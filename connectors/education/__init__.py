"""Education sources: the DfE Common Transfer File and the LA's EHE / CME register."""
