package defects

// blockProfiles: filled in by the profiles of this file.
var blockProfiles []Profile
