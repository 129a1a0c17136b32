package defects

// attachProfiles: filled in by the profiles of this file.
var attachProfiles []Profile
