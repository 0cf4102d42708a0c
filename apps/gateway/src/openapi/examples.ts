// Example values for the OpenAPI document: one small, consistent world (Rahim donates to a tube-well
// campaign in Sylhet), so the examples read as one story. A test checks every example against the
// schema of the route it documents.

import { NO_FAULTS } from "@careforall/bank";

const USER_ID = "01938f2e-6b1c-7d3a-9f10-2b7c4e5a6d01";
const OWNER_ID = "01938f2e-6b1c-7d3a-9f10-2b7c4e5a6d02";
export const CAMPAIGN_ID = "01938f2f-0a4b-7c21-8e3d-5f6a7b8c9d10";
const PLEDGE_ID = "01938f30-1c2d-7e4f-8a5b-6c7d8e9f0a11";
const AT = "2026-12-04T09:30:00.000Z";

const user = {
  id: USER_ID,
  email: "rahim@example.com",
  name: "রহিম উদ্দিন",
  role: "donor" as const,
  bankAccountId: "acct_01938f2e6b1c7d3a9f102b7c4e5a6d01",
};

export const examples = {
  register: { email: "rahim@example.com", password: "correct horse battery", name: "রহিম উদ্দিন" },
  login: { email: "rahim@example.com", password: "correct horse battery" },
  refresh: { refreshToken: "rt_3xq8Vd0cN2mYbL7pK4sWfQ" },
  user,
  session: {
    user,
    accessToken: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIwMTkzOGYyZS02YjFjIn0.c2lnbmF0dXJl",
    refreshToken: "rt_3xq8Vd0cN2mYbL7pK4sWfQ",
    expiresIn: 900,
  },
  createCampaign: {
    title: "Tube wells for Sylhet",
    description: "Clean water for 40 families after the floods: four deep tube wells and their upkeep.",
    goalMinor: 50_000_000,
    currency: "BDT",
    endsAt: "2027-03-31T18:00:00.000Z",
  },
  updateCampaign: { goalMinor: 60_000_000, description: "Five wells now: the union council found a fifth site." },
  campaign: {
    id: CAMPAIGN_ID,
    ownerId: OWNER_ID,
    title: "Tube wells for Sylhet",
    description: "Clean water for 40 families after the floods: four deep tube wells and their upkeep.",
    goalMinor: 50_000_000,
    currency: "BDT" as const,
    status: "active" as const,
    raisedMinor: 1_250_000,
    donorCount: 37,
    pledgeCount: 41,
    endsAt: "2027-03-31T18:00:00.000Z",
    createdAt: AT,
    updatedAt: AT,
    version: 42,
  },
  donation: {
    id: PLEDGE_ID,
    amountMinor: 150_000,
    currency: "BDT" as const,
    donorName: "রহিম উদ্দিন",
    message: "For the families of Companiganj",
    capturedAt: "2026-12-04T09:30:04.120Z",
  },
  guestPledge: {
    amountMinor: 150_000,
    currency: "BDT",
    message: "For the families of Companiganj",
    donor: { email: "karim@example.com", name: "করিম" },
    source: { bankAccountId: "acct_test_slow", accountSecret: "test" },
  },
  createdPledge: {
    id: PLEDGE_ID,
    campaignId: CAMPAIGN_ID,
    donorId: null,
    amountMinor: 150_000,
    currency: "BDT" as const,
    status: "pending" as const,
    anonymous: false,
    message: "For the families of Companiganj",
    failureReason: null,
    history: [{ status: "pending" as const, at: AT }],
    createdAt: AT,
    updatedAt: AT,
    receiptToken: "rcpt_kS9dQ2vX7mN4pL1tZ8wY",
  },
  pledge: {
    id: PLEDGE_ID,
    campaignId: CAMPAIGN_ID,
    donorId: USER_ID,
    amountMinor: 150_000,
    currency: "BDT" as const,
    status: "captured" as const,
    anonymous: false,
    message: "For the families of Companiganj",
    failureReason: null,
    history: [
      { status: "pending" as const, at: AT },
      { status: "authorized" as const, at: "2026-12-04T09:30:01.480Z" },
      { status: "captured" as const, at: "2026-12-04T09:30:04.120Z" },
    ],
    createdAt: AT,
    updatedAt: "2026-12-04T09:30:04.120Z",
  },
  cancelledPledge: {
    id: PLEDGE_ID,
    campaignId: CAMPAIGN_ID,
    donorId: USER_ID,
    amountMinor: 150_000,
    currency: "BDT" as const,
    status: "cancelled" as const,
    anonymous: false,
    message: "For the families of Companiganj",
    failureReason: null,
    history: [
      { status: "pending" as const, at: AT },
      { status: "cancelled" as const, at: "2026-12-04T09:30:00.900Z" },
    ],
    createdAt: AT,
    updatedAt: "2026-12-04T09:30:00.900Z",
  },
  openedAccount: {
    bankAccountId: "acct_01938f31a2b37c4d8e5f6a7b8c9d0e12",
    accountSecret: "sec_Hq3wT8nV2xK5mP9rL4yB",
    balanceMinor: 1_000_000,
    currency: "BDT",
  },
  myBank: {
    bankAccountId: "acct_01938f2e6b1c7d3a9f102b7c4e5a6d01",
    balanceMinor: 850_000,
    availableMinor: 850_000,
    heldMinor: 0,
    currency: "BDT",
  },
  faults: NO_FAULTS,
  faultsPatch: { errorRate: 0.2, webhookDuplicateRate: 0.5, webhookReorder: true },
  webhook: {
    id: "evt_01938f32b4c5",
    type: "hold.captured" as const,
    createdAt: "2026-12-04T09:30:04.100Z",
    data: {
      holdId: "hold_01938f31c6d7",
      paymentRef: "01938f30-2d3e-7f40-9b6c-7d8e9f0a1b22",
      amountMinor: 150_000,
      currency: "BDT" as const,
      status: "captured",
      reason: null,
    },
  },
  audit: {
    campaigns: [
      {
        campaignId: CAMPAIGN_ID,
        raisedMinor: 1_250_000,
        capturedMinusRefundedMinor: 1_250_000,
        bankBalanceMinor: 1_250_000,
        driftMinor: 0,
      },
    ],
    totalDriftMinor: 0,
    stuckPledges: 0,
    checkedAt: AT,
  },
  chatMessage: {
    id: "01938f33-5e6f-7a80-9b1c-2d3e4f5a6b7c",
    room: `campaign:${CAMPAIGN_ID}`,
    userId: USER_ID,
    name: "রহিম উদ্দিন",
    text: "Will the wells be finished before the monsoon?",
    at: "2026-12-04T09:41:12.000Z",
    clientId: "c-7f3a",
  },
  notification: {
    id: "01938f34-7a8b-7c9d-8e0f-1a2b3c4d5e6f",
    kind: "pledge.captured" as const,
    title: "Your donation was received",
    body: "৳1,500.00 reached Tube wells for Sylhet. Thank you!",
    at: "2026-12-04T09:30:04.300Z",
    readAt: null,
    pledgeId: PLEDGE_ID,
    campaignId: CAMPAIGN_ID,
  },
  page: <T>(item: T) => ({ items: [item], nextCursor: null }),
};
