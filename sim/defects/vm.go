package defects

// vmProfiles: filled in by the profiles of this file.
var vmProfiles []Profile
