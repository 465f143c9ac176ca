// perso's entry for browsers: the SDK's browser entry (no compiler, no Node builtins).

export * from '@perso/sdk/browser'
