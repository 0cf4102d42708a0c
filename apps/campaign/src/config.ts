// The campaign service's environment schema, validated once at start (fail fast, every
// problem reported together).
import {
  commonConfig,
  databaseConfig,
  jwtVerifyConfig,
  natsConfig,
  type Static,
  serviceIdentityConfig,
  T,
} from "@careforall/config";

export const CampaignConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...jwtVerifyConfig,
  ...serviceIdentityConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3102 }),
  /** How often ended campaigns are closed (pledges are refused from endsAt on regardless). */
  END_SWEEP_INTERVAL_MS: T.Integer({ minimum: 100, maximum: 3_600_000, default: 5_000 }),
});

export type CampaignConfig = Static<typeof CampaignConfigSchema>;
