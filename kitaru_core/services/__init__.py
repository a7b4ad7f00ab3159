"""Operations, one per verb: take a validated request, call the backend, return domain models."""
