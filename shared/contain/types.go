package contain

import iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

// Short names for the IAM types the handler uses.
type iamtypesTag = iamtypes.Tag

const iamtypesInactive = iamtypes.StatusTypeInactive

func iamtypesStatus(s string) iamtypes.StatusType { return iamtypes.StatusType(s) }
