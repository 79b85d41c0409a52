"""Social care sources: the case-management database and the DfE Children in Need census."""
