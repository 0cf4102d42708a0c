// Who may change a campaign (edit, close): its owner and the platform's admins, as the API decides it
// (PATCH/close answer 403 to anyone else). The pages only offer what the server would accept.

export function canManage(
  user: { id: string; role: string } | null | undefined,
  campaign: { ownerId: string } | null | undefined,
): boolean {
  return !!user && !!campaign && (user.id === campaign.ownerId || user.role === "admin");
}
