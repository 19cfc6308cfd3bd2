import SwitchyardKit
print("switchyard")
