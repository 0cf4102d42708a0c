// The campaign service's environment schema, validated once at start (fail fast, every
// problem reported together).
import { commonConfig, databaseConfig, jwtVerifyConfig, natsConfig, type Static, T } from "@careforall/config";

export const CampaignConfigSchema = T.Object({
  ...commonConfig,
  ...databaseConfig,
  ...natsConfig,
  ...jwtVerifyConfig,
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3102 }),
});

export type CampaignConfig = Static<typeof CampaignConfigSchema>;
