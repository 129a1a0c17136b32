package defects

// fileProfiles: filled in by the profiles of this file.
var fileProfiles []Profile
